//! Bots: flagged by user agent, headless hints and rates; kept flagged or dropped per source;
//! their share reported per source.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

const CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn page(id: &str, anonymous_id: &str, agent: &str) -> Value {
    json!({"type": "page", "messageId": id, "anonymousId": anonymous_id,
           "context": {"userAgent": agent}, "properties": {"path": "/"}})
}

#[tokio::test]
async fn bots_are_flagged_reported_per_source_and_dropped_where_a_source_says_so() {
    let silta = TestSilta::start_with(tempfile::tempdir().expect("tempdir"), |config| {
        config.bots.max_events_per_minute_per_visitor = 3;
    })
    .await;
    let mut batch = vec![
        page("human", "visitor-1", CHROME),
        page("crawler", "visitor-2", GOOGLEBOT),
        page(
            "headless",
            "visitor-3",
            &CHROME.replace("Chrome/", "HeadlessChrome/"),
        ),
    ];
    batch.extend((1..=5).map(|index| page(&format!("busy-{index}"), "visitor-4", CHROME)));
    let body = json!({"writeKey": silta.write_key, "batch": batch});
    let (status, outcome) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(
        (status, outcome["accepted"].as_u64()),
        (StatusCode::OK, Some(8))
    );

    // Imported history is judged by user agent only.
    let history: Vec<Value> = (1..=5)
        .map(|index| page(&format!("history-{index}"), "visitor-5", CHROME))
        .collect();
    let body = json!({"writeKey": silta.write_key, "batch": history});
    let (status, _) = silta.post_json("/v1/import", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);

    let bots = silta
        .sql("SELECT message_id FROM events WHERE is_bot ORDER BY message_id")
        .await;
    assert_eq!(
        bots,
        vec![
            json!({"message_id": "busy-4"}),
            json!({"message_id": "busy-5"}),
            json!({"message_id": "crawler"}),
            json!({"message_id": "headless"}),
        ]
    );
    let (status, report) = silta
        .call(
            Method::GET,
            "/v1/bots?days=7",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report[0]["events"], 13);
    assert_eq!(report[0]["bots"], 4);
    assert!((report[0]["share"].as_f64().expect("share") - 4.0 / 13.0).abs() < 1e-9);
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/bots?days=0",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let source = report[0]["source"].as_str().expect("source").to_string();
    let (status, updated) = silta
        .call(
            Method::PATCH,
            &format!("/v1/sources/{source}"),
            &silta.admin_token,
            json!({"bot_policy": "drop"}),
        )
        .await;
    assert_eq!(
        (status, updated["bot_policy"].as_str()),
        (StatusCode::OK, Some("drop"))
    );
    assert_eq!(updated["consent_policy"], "keep", "the other policy stays");
    let body = json!({"writeKey": silta.write_key, "batch": [
        page("crawler-2", "visitor-6", GOOGLEBOT), page("human-2", "visitor-7", CHROME)
    ]});
    let (_, outcome) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(
        (outcome["accepted"].as_u64(), outcome["withheld"].as_u64()),
        (Some(1), Some(1))
    );
    let (status, _) = silta
        .call(
            Method::PATCH,
            &format!("/v1/sources/{source}"),
            &silta.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a change names a policy");
}
