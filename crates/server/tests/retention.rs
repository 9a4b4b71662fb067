//! Retention: what is older than the policy allows is deleted on request and on schedule.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

#[tokio::test]
async fn events_older_than_the_policy_are_deleted_and_the_run_is_audited() {
    let data = tempfile::tempdir().expect("tempdir");
    let silta = TestSilta::start_with(data, |config| {
        config.retention.events_days = 30;
    })
    .await;
    let recent = chrono::Utc::now() - chrono::Duration::days(2);
    let body = json!({"writeKey": silta.write_key, "batch": [
        {"type": "track", "event": "Old", "userId": "u-1", "messageId": "old-1", "timestamp": "2020-03-01T10:00:00Z"},
        {"type": "track", "event": "Old", "userId": "u-1", "messageId": "old-2", "timestamp": "2021-06-01T10:00:00Z"},
        {"type": "track", "event": "Recent", "userId": "u-1", "messageId": "new-1", "timestamp": recent.to_rfc3339()},
        {"type": "track", "userId": "u-1", "messageId": "rejected-1"}
    ]});
    let (status, _) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);

    let apply = || {
        silta.call(
            Method::POST,
            "/v1/retention/apply",
            &silta.admin_token,
            Value::Null,
        )
    };
    let (status, erased) = apply().await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["events"], 2, "{erased}");
    assert_eq!(
        silta.sql("SELECT message_id FROM events").await,
        vec![json!({"message_id": "new-1"})]
    );
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM quarantine").await,
        vec![json!({"n": 1})],
        "a recent rejection stays for 30 days"
    );
    let (_, again) = apply().await;
    assert_eq!(again["events"], 0, "nothing more to delete: {again}");

    let (_, audit) = silta
        .call(
            Method::GET,
            "/v1/audit?limit=1000",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    let runs: Vec<&Value> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == "retention.applied")
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "only a run that deleted something is recorded"
    );
    assert_eq!(runs[0]["detail"]["erased"]["events"], 2);
}
