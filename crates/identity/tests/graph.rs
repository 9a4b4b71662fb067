//! The identity graph against the scenarios the issue names, and a property test of its
//! invariants under random event sequences.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use silta_identity::{IdentityConfig, IdentityGraph};
use silta_model::{Channel, Event, EventType};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).expect("time") + Duration::seconds(seconds)
}

fn event(event_type: EventType, user_id: Option<&str>, anonymous_id: Option<&str>) -> Event {
    Event {
        message_id: format!("m-{user_id:?}-{anonymous_id:?}"),
        event_type,
        event: (event_type == EventType::Track).then(|| "Order Completed".to_string()),
        user_id: user_id.map(str::to_string),
        anonymous_id: anonymous_id.map(str::to_string),
        timestamp: at(0),
        received_at: at(0),
        source_id: "web".to_string(),
        channel: Channel::Web,
        properties: "{}".to_string(),
        traits: "{}".to_string(),
        context: "{}".to_string(),
        integrations: "{}".to_string(),
        ..Event::default()
    }
}

fn identify(user_id: &str, anonymous_id: Option<&str>, traits: &str, seconds: i64) -> Event {
    Event {
        traits: traits.to_string(),
        timestamp: at(seconds),
        ..event(EventType::Identify, Some(user_id), anonymous_id)
    }
}

fn graph() -> IdentityGraph {
    IdentityGraph::new(IdentityConfig::default()).expect("valid config")
}

#[test]
fn an_anonymous_visitor_who_identifies_joins_the_user_profile() {
    let mut graph = graph();
    let mut order = event(EventType::Track, None, Some("cookie-1"));
    order.revenue = Some(40.0);
    graph.observe(&order);
    let anonymous_profile = graph
        .lookup("anonymous_id", "cookie-1")
        .expect("known type")
        .expect("profile")
        .id
        .clone();
    graph.observe(&identify(
        "u1",
        Some("cookie-1"),
        r#"{"email":" Ada@Example.com "}"#,
        10,
    ));
    let profile = graph
        .lookup("email", "ada@example.com")
        .expect("known type")
        .expect("profile");
    assert_eq!(profile.id, anonymous_profile, "the older profile survives");
    assert_eq!(profile.computed.event_count, 2);
    assert_eq!(profile.computed.total_revenue, 40.0);
    assert_eq!(
        profile.traits.values().get("email"),
        Some(&serde_json::json!(" Ada@Example.com "))
    );
    let identifiers = graph.identifiers_of(profile);
    assert!(identifiers.contains(&("user_id".to_string(), "u1".to_string())));
    assert!(identifiers.contains(&("email".to_string(), "ada@example.com".to_string())));
    graph.check_consistency().expect("consistent");
}

#[test]
fn two_profiles_merge_and_the_merged_id_still_resolves() {
    let mut graph = graph();
    graph.observe(&event(EventType::Page, None, Some("phone-cookie")));
    graph.observe(&identify("u1", None, "{}", 5));
    let merged_away = graph
        .lookup("user_id", "u1")
        .expect("type")
        .expect("profile")
        .id
        .clone();
    graph.observe(&identify("u1", Some("phone-cookie"), "{}", 10));
    let survivor = graph
        .lookup("user_id", "u1")
        .expect("type")
        .expect("profile");
    assert_ne!(survivor.id, merged_away);
    assert_eq!(
        graph.profile(&merged_away).map(|profile| &profile.id),
        Some(&survivor.id)
    );
    let merges = graph.merges_of(survivor);
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].merged, merged_away);
    assert_eq!(merges[0].at, at(10));
}

#[test]
fn a_shared_device_does_not_fuse_two_users() {
    let mut graph = graph();
    graph.observe(&identify("alice", Some("family-tablet"), "{}", 1));
    graph.observe(&identify("bob", Some("family-tablet"), "{}", 2));
    let alice = graph
        .lookup("user_id", "alice")
        .expect("type")
        .expect("alice");
    let bob = graph.lookup("user_id", "bob").expect("type").expect("bob");
    assert_ne!(alice.id, bob.id);
    assert_eq!(graph.refusals().len(), 1);
    assert!(
        graph.refusals()[0].reason.contains("user_id"),
        "{:?}",
        graph.refusals()
    );
    graph.check_consistency().expect("consistent");
}

#[test]
fn later_traits_win_and_computed_traits_cannot_be_overwritten() {
    let mut graph = graph();
    graph.observe(&identify(
        "u1",
        None,
        r#"{"plan":"pro","event_count":999}"#,
        20,
    ));
    graph.observe(&identify("u1", None, r#"{"plan":"free"}"#, 10));
    let profile = graph
        .lookup("user_id", "u1")
        .expect("type")
        .expect("profile");
    assert_eq!(
        profile.traits.values().get("plan"),
        Some(&serde_json::json!("pro"))
    );
    assert_eq!(profile.computed.event_count, 2);
    assert_eq!(profile.traits.0["plan"].at, at(20));
}

#[test]
fn declared_computed_traits_follow_merges() {
    let config: IdentityConfig = serde_json::from_value(serde_json::json!({
        "computed_traits": [
            {"name": "orders", "function": "count", "event": "Order Completed"},
            {"name": "largest_order", "function": "max", "event": "Order Completed", "property": "total"},
            {"name": "last_sku", "function": "last", "property": "sku"}
        ]
    }))
    .expect("a valid declaration");
    let mut graph = IdentityGraph::new(config).expect("valid config");
    for (anonymous_id, total, sku, seconds) in [("cookie-1", 30, "a", 1), ("cookie-2", 50, "b", 2)]
    {
        let mut order = event(EventType::Track, None, Some(anonymous_id));
        order.timestamp = at(seconds);
        order.properties = serde_json::json!({"total": total, "sku": sku}).to_string();
        graph.observe(&order);
    }
    graph.observe(&identify("u1", Some("cookie-2"), "{}", 3));
    graph.observe(&identify("u1", Some("cookie-1"), "{}", 4));
    let profile = graph
        .lookup("user_id", "u1")
        .expect("type")
        .expect("profile");
    let declared: serde_json::Map<String, serde_json::Value> =
        graph.declared_traits_of(profile).into_iter().collect();
    assert_eq!(
        serde_json::Value::Object(declared),
        serde_json::json!({"orders": 2, "largest_order": 50.0, "last_sku": "b"})
    );
    let built_in_name =
        serde_json::json!({"computed_traits": [{"name": "event_count", "function": "count"}]});
    let config: IdentityConfig = serde_json::from_value(built_in_name).expect("parses");
    assert!(IdentityGraph::new(config).is_err());
}

#[test]
fn bad_identifiers_are_refused_with_a_reason() {
    let mut graph = graph();
    let mut event = identify("u1", None, r#"{"email":"not-an-email","phone":"12"}"#, 0);
    event.context =
        r#"{"externalIds":[{"type":"Loyalty Card","id":"1"},{"type":"crm_id"}]}"#.to_string();
    graph.observe(&event);
    let reasons: Vec<&str> = graph
        .refusals()
        .iter()
        .map(|refusal| refusal.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(graph.lookup("shoe_size", "42").is_err());
    assert!(graph.lookup("email", "nope").is_err());
}

#[test]
fn external_ids_and_devices_link_across_channels() {
    let mut graph = graph();
    let mut shop = event(EventType::Track, Some("u1"), None);
    shop.context = r#"{"externalIds":[{"type":"loyalty_card","id":"LC-1"}]}"#.to_string();
    graph.observe(&shop);
    let mut till = event(EventType::Track, None, Some("pos-visit"));
    till.context = r#"{"externalIds":[{"type":"loyalty_card","id":"LC-1"}],"device":{"id":"till-7","type":"pos"}}"#.to_string();
    graph.observe(&till);
    let profile = graph
        .lookup("loyalty_card", "LC-1")
        .expect("type")
        .expect("profile");
    assert_eq!(
        graph.lookup("user_id", "u1").expect("type").map(|p| &p.id),
        Some(&profile.id)
    );
    assert!(profile.computed.device_types.contains("pos"));
}

/// Random events over a small universe of identifiers, so that links and conflicts are common.
fn events_strategy() -> impl Strategy<Value = Vec<Event>> {
    let one = (
        prop::option::of(0u8..4),
        prop::option::of(0u8..12),
        prop::option::of(0u8..6),
        0u8..3,
    )
        .prop_map(|(user, cookie, email, kind)| {
            let user_id = user.map(|user| format!("user-{user}"));
            let anonymous_id = cookie
                .map(|cookie| format!("cookie-{cookie}"))
                .or_else(|| user_id.is_none().then(|| "cookie-0".to_string()));
            let mut event = event(
                [EventType::Identify, EventType::Track, EventType::Page][kind as usize],
                user_id.as_deref(),
                anonymous_id.as_deref(),
            );
            if let Some(email) = email {
                event.context = format!(r#"{{"traits":{{"email":"person{email}@example.com"}}}}"#);
            }
            event
        });
    prop::collection::vec(one, 1..80)
}

proptest! {
    #[test]
    fn every_merge_keeps_the_graph_consistent_and_replays_identically(events in events_strategy()) {
        let config = IdentityConfig {
            limits: [("user_id".to_string(), 1), ("email".to_string(), 2), ("anonymous_id".to_string(), 4)]
                .into_iter()
                .collect(),
            ..IdentityConfig::default()
        };
        let mut first = IdentityGraph::new(config.clone()).expect("config");
        for event in &events {
            first.observe(event);
            prop_assert_eq!(first.check_consistency(), Ok(()));
        }
        let mut second = IdentityGraph::new(config).expect("config");
        for event in &events {
            second.observe(event);
        }
        let ids = |graph: &IdentityGraph| -> Vec<(String, String, String)> {
            graph
                .identities()
                .map(|(kind, value, profile)| (kind.to_string(), value.to_string(), profile.to_string()))
                .collect()
        };
        prop_assert_eq!(ids(&first), ids(&second));
        let total: u64 = first.profiles().map(|profile| profile.computed.event_count).sum();
        prop_assert_eq!(total, events.len() as u64, "every event counts in exactly one profile");
    }
}

#[test]
fn a_forgotten_person_leaves_no_identifier_merge_or_trait_behind() {
    let mut graph = graph();
    graph.observe(&event(EventType::Page, None, Some("cookie-ada")));
    graph.observe(&event(EventType::Page, None, Some("cookie-ada-phone")));
    graph.observe(&identify(
        "ada",
        Some("cookie-ada"),
        r#"{"email":"ada@example.com"}"#,
        5,
    ));
    graph.observe(&identify("ada", Some("cookie-ada-phone"), "{}", 6));
    graph.observe(&identify(
        "grace",
        Some("cookie-grace"),
        r#"{"email":"grace@example.com"}"#,
        7,
    ));
    let merged_away = graph
        .merges()
        .map(|merge| merge.merged.clone())
        .collect::<Vec<_>>();
    assert!(!merged_away.is_empty());
    let ada = graph
        .lookup("user_id", "ada")
        .expect("known type")
        .expect("profile")
        .id
        .clone();

    let forgotten = graph.forget(&merged_away[0]).expect("resolves to ada");
    assert!(forgotten.contains(&("email".to_string(), "ada@example.com".to_string())));
    assert_eq!(forgotten.len(), 4, "{forgotten:?}");
    for (kind, value) in &forgotten {
        assert!(graph.lookup(kind, value).expect("known type").is_none());
    }
    assert!(graph.profile(&ada).is_none());
    assert!(merged_away.iter().all(|id| graph.profile(id).is_none()));
    assert_eq!(graph.merges().count(), 0);
    assert_eq!(graph.profiles().count(), 1);
    assert!(
        graph
            .identities()
            .all(|(_, value, _)| !value.contains("ada"))
    );
    graph.check_consistency().expect("consistent");
    assert!(graph.forget(&ada).is_none(), "nothing left to forget");

    // The same identifiers arriving again start a new, empty person.
    graph.observe(&event(EventType::Page, None, Some("cookie-ada")));
    let again = graph
        .lookup("anonymous_id", "cookie-ada")
        .expect("known type")
        .expect("profile");
    assert_eq!(again.computed.event_count, 1);
    assert!(
        graph
            .lookup("email", "grace@example.com")
            .expect("known")
            .is_some()
    );
    graph.check_consistency().expect("consistent");
}
