//! A rebuild from the table gives the profiles the live graph gave, also when the write-ahead
//! log took events in another order than their arrival times.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use silta_identity::{Identity, IdentityConfig};
use silta_model::{Channel, Event, EventType, Ingested};
use silta_store::{Applier, EventStore, StoreOptions};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("time") + Duration::seconds(seconds)
}

fn event(message_id: &str, user_id: Option<&str>, anonymous_id: &str, received: i64) -> Ingested {
    Ingested::Event(Box::new(Event {
        message_id: message_id.to_string(),
        event_type: EventType::Identify,
        user_id: user_id.map(str::to_string),
        anonymous_id: Some(anonymous_id.to_string()),
        timestamp: at(received),
        received_at: at(received),
        source_id: "web".to_string(),
        channel: Channel::Web,
        properties: "{}".to_string(),
        traits: "{}".to_string(),
        context: "{}".to_string(),
        integrations: "{}".to_string(),
        ..Event::default()
    }))
}

#[tokio::test]
async fn the_rebuild_follows_the_log_not_the_clock() {
    let directory = tempfile::tempdir().expect("tempdir");
    let store = EventStore::open(directory.path(), StoreOptions::default())
        .await
        .expect("opens");
    let live = Arc::new(Identity::new(IdentityConfig::default()).expect("config"));
    let mut applier = Applier::new(store.clone()).await.expect("applier");
    applier.observe_with(live.clone());
    // Two requests whose handlers stamped them in one order and reached the log in the other:
    // the anonymous visit founds the profile live; by arrival time the identify would.
    applier
        .apply(vec![(1, event("visit", None, "cookie-1", 10))])
        .expect("applies");
    applier
        .apply(vec![(2, event("login", Some("ada"), "cookie-1", 9))])
        .expect("applies");
    let live_id = live
        .read()
        .lookup("user_id", "ada")
        .expect("known type")
        .expect("profile")
        .id
        .clone();
    store.flush().await.expect("flushes");

    let rebuilt = Identity::new(IdentityConfig::default()).expect("config");
    rebuilt.rebuild(&store).await.expect("rebuilds");
    let rebuilt_id = rebuilt
        .read()
        .lookup("user_id", "ada")
        .expect("known type")
        .expect("profile")
        .id
        .clone();
    assert_eq!(rebuilt_id, live_id);
    assert_eq!(
        rebuilt
            .read()
            .lookup("anonymous_id", "cookie-1")
            .expect("known type")
            .map(|profile| profile.id.clone()),
        Some(live_id)
    );
}
