//! The store without the server: buffer, commits with their WAL position, compaction, dedupe.

use chrono::{TimeZone, Utc};
use silta_model::{
    Channel, ContractMode, Event, EventType, Ingested, Rejected, Violation, ViolationKind,
    ViolationReport,
};
use silta_store::{Applier, EventStore, QueryLimits, StoreOptions, batches_to_json_rows};

fn event(message_id: &str, day: u32) -> Ingested {
    let time = Utc
        .with_ymd_and_hms(2026, 11, day, 12, 0, 0)
        .single()
        .expect("valid time");
    Ingested::Event(Box::new(Event {
        message_id: message_id.to_string(),
        event_type: EventType::Track,
        event: Some("Tested".to_string()),
        name: None,
        user_id: Some("u".to_string()),
        anonymous_id: None,
        group_id: None,
        previous_id: None,
        timestamp: time,
        original_timestamp: None,
        sent_at: None,
        received_at: Utc::now(),
        source_id: "src".to_string(),
        channel: Channel::Web,
        page_url: None,
        page_path: None,
        page_referrer: None,
        page_title: None,
        utm_source: None,
        utm_medium: None,
        utm_campaign: None,
        utm_term: None,
        utm_content: None,
        ip: None,
        user_agent: None,
        revenue: Some(f64::from(day)),
        currency: None,
        properties: "{}".to_string(),
        traits: "{}".to_string(),
        context: "{}".to_string(),
        integrations: "{}".to_string(),
        is_bot: day == 3,
        violations: Vec::new(),
    }))
}

async fn count(store: &EventStore, sql: &str) -> serde_json::Value {
    let (batches, _) = store
        .query(sql, &QueryLimits::default())
        .await
        .expect("query runs");
    batches_to_json_rows(&batches).expect("json").remove(0)
}

#[tokio::test]
async fn commits_record_their_wal_position_and_compaction_keeps_every_row() {
    let directory = tempfile::tempdir().expect("tempdir");
    let options = StoreOptions {
        compact_after_commits: 3,
        ..StoreOptions::default()
    };
    let store = EventStore::open(directory.path(), options.clone())
        .await
        .expect("opens");
    let mut applier = Applier::new(store.clone()).await.expect("applier");
    let mut lsn = 0;
    for round in 0..3u32 {
        let records = (0..4)
            .map(|index| {
                lsn += 1;
                (lsn, event(&format!("r{round}-{index}"), 1 + round))
            })
            .collect();
        applier.apply(records).expect("applies");
        // A duplicate of an earlier id and a rejected event in the same WAL batch.
        lsn += 1;
        let duplicate = (lsn, event("r0-0", 1));
        lsn += 1;
        let rejected = (
            lsn,
            Ingested::Rejected(Rejected {
                received_at: Utc::now(),
                source_id: "src".to_string(),
                message_id: None,
                reason: "testing".to_string(),
                payload: "{}".to_string(),
                violations: Vec::new(),
            }),
        );
        applier.apply(vec![duplicate, rejected]).expect("applies");
        assert_eq!(
            store.stats().buffered_rows,
            5,
            "four events and one rejection buffered"
        );
        let outcome = store.flush().await.expect("flush");
        assert_eq!((outcome.rows, outcome.persisted_lsn), (5, lsn));
    }
    assert_eq!(
        count(
            &store,
            "SELECT count(*) AS n, sum(revenue) AS r FROM events"
        )
        .await,
        serde_json::json!({"n": 12, "r": 24.0})
    );
    let files_before = store.stats().events_files;
    assert_eq!(files_before, 3, "one file per flush (one day each)");
    // Another flush on a further day, then compaction merges each day's files.
    applier
        .apply(vec![(lsn + 1, event("late", 1))])
        .expect("applies");
    store.flush().await.expect("flush");
    assert_eq!(store.stats().events_files, 4);
    let removed = store.compact_if_due().await.expect("compacts");
    assert_eq!(
        removed, 5,
        "the two files of day 1 become one, the three of quarantine one"
    );
    assert_eq!(store.stats().events_files, 3);
    assert_eq!(
        count(&store, "SELECT count(*) AS n FROM events").await,
        serde_json::json!({"n": 13})
    );
    assert_eq!(
        count(&store, "SELECT count(*) AS n FROM quarantine").await,
        serde_json::json!({"n": 3})
    );

    // Reopened, the tables say how far the WAL is persisted and replay skips what they hold.
    drop(applier);
    let reopened = EventStore::open(directory.path(), options)
        .await
        .expect("reopens");
    assert_eq!(reopened.lsn_floor(), lsn + 1);
    let mut applier = Applier::new(reopened.clone()).await.expect("applier");
    applier
        .apply(vec![
            (lsn, event("replayed-but-persisted", 2)),
            (lsn + 2, event("late", 2)),
        ])
        .expect("applies");
    assert_eq!(
        reopened.stats().buffered_rows,
        0,
        "persisted lsn skipped, known id dropped"
    );
}

#[tokio::test]
async fn a_table_written_before_a_column_existed_gains_it_on_open() {
    use deltalake::kernel::StructType;
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;

    let directory = tempfile::tempdir().expect("tempdir");
    let events = directory.path().join("events");
    std::fs::create_dir_all(&events).expect("creates");
    let url = url::Url::from_directory_path(&events).expect("url");
    let schema: StructType = silta_store::EVENTS_SCHEMA
        .as_ref()
        .try_into_kernel()
        .expect("kernel schema");
    let earlier_fields: Vec<_> = schema
        .fields()
        .filter(|field| field.name() != "is_bot")
        .cloned()
        .collect();
    deltalake::DeltaTableBuilder::from_url(url)
        .expect("builder")
        .build()
        .expect("table")
        .create()
        .with_columns(earlier_fields)
        .with_partition_columns(["event_date".to_string()])
        .await
        .expect("creates the earlier layout");

    let store = EventStore::open(directory.path(), StoreOptions::default())
        .await
        .expect("opens and evolves");
    let mut applier = Applier::new(store.clone()).await.expect("applier");
    applier
        .apply(vec![(1, event("human", 2)), (2, event("bot", 3))])
        .expect("applies");
    store.flush().await.expect("commits with the new column");
    assert_eq!(
        count(
            &store,
            "SELECT count(*) AS n, sum(CASE WHEN is_bot THEN 1 ELSE 0 END) AS bots FROM events"
        )
        .await,
        serde_json::json!({"n": 2, "bots": 1})
    );
}

/// Violations are kept three ways: on a flagged event, on a blocked (quarantined) one, and one
/// row each in `violations`, whatever the source did.
#[tokio::test]
async fn violations_are_stored_with_events_quarantine_and_their_own_table() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let store = EventStore::open(directory.path(), StoreOptions::default())
        .await
        .expect("opens");
    let mut applier = Applier::new(store.clone()).await.expect("applier");
    let violation = |field: &str| Violation {
        kind: ViolationKind::WrongType,
        field: field.to_string(),
        message: "expected number".to_string(),
    };
    let Ingested::Event(mut flagged) = event("flagged", 1) else {
        unreachable!("event() makes events")
    };
    flagged.violations = vec![violation("properties.revenue")];
    let report = ViolationReport {
        received_at: Utc::now(),
        source_id: "src".to_string(),
        message_id: "flagged".to_string(),
        event_type: EventType::Track,
        event: Some("Tested".to_string()),
        plan: "shop".to_string(),
        plan_version: 2,
        mode: ContractMode::Flag,
        violations: vec![violation("properties.revenue"), violation("properties.tax")],
    };
    let blocked = Rejected {
        received_at: Utc::now(),
        source_id: "src".to_string(),
        message_id: Some("blocked".to_string()),
        reason: "violates its tracking plan".to_string(),
        payload: "{}".to_string(),
        violations: vec![violation("properties.revenue")],
    };
    applier
        .apply(vec![
            (1, Ingested::Event(flagged)),
            (2, Ingested::Violations(report)),
            (3, Ingested::Rejected(blocked)),
        ])
        .expect("applies");
    store.flush().await.expect("flush");
    assert_eq!(
        count(&store, "SELECT count(*) AS n, max(plan_version) AS v, min(field) AS f FROM violations WHERE mode = 'flag' AND kind = 'wrong_type'").await,
        serde_json::json!({"n": 2, "v": 2, "f": "properties.revenue"})
    );
    assert_eq!(
        count(
            &store,
            "SELECT json_get_str(json_get(violations, 0), 'field') AS f FROM events"
        )
        .await,
        serde_json::json!({"f": "properties.revenue"})
    );
    assert_eq!(
        count(
            &store,
            "SELECT lsn, json_get_str(json_get(violations, 0), 'kind') AS k FROM quarantine"
        )
        .await,
        serde_json::json!({"lsn": 3, "k": "wrong_type"})
    );
}
