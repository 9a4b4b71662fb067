//! Experiments over HTTP: definitions, assignment on the merged profile (sticky by user id
//! across devices), bulk assignment and exposure events through the write-ahead log.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

#[tokio::test]
async fn a_person_keeps_their_variant_on_every_device_once_known_and_exposures_are_recorded() {
    let silta = TestSilta::start().await;
    let marketer = silta.marketer_token.clone();
    let definition = json!({"key": "checkout-button", "variations": ["control", "green", "blue"],
                            "weights": [0.34, 0.33, 0.33]});
    let (status, saved) = silta
        .call(
            Method::PUT,
            "/v1/experiments/checkout-button",
            &marketer,
            definition,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["hash_version"], 2);
    let (status, answer) = silta
        .call(
            Method::PUT,
            "/v1/experiments/other",
            &marketer,
            json!({"key": "other", "variations": ["only"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");

    // The same person on two devices, linked by logging in on both.
    let body = json!({"writeKey": silta.write_key, "batch": [
        {"type": "identify", "anonymousId": "phone", "userId": "ada", "messageId": "i-1"},
        {"type": "identify", "anonymousId": "laptop", "userId": "ada", "messageId": "i-2"},
        {"type": "page", "anonymousId": "stranger", "messageId": "p-1"}
    ]});
    let (status, _) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
    let assign = |kind: &str, value: &str, exposure: bool| {
        format!(
            "/v1/experiments/checkout-button/assignment?identifier_type={kind}&value={value}&record_exposure={exposure}"
        )
    };
    let (_, by_user) = silta
        .call(
            Method::GET,
            &assign("user_id", "ada", false),
            &marketer,
            Value::Null,
        )
        .await;
    let (_, on_phone) = silta
        .call(
            Method::GET,
            &assign("anonymous_id", "phone", true),
            &marketer,
            Value::Null,
        )
        .await;
    let (_, on_laptop) = silta
        .call(
            Method::GET,
            &assign("anonymous_id", "laptop", true),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(by_user["in_experiment"], true, "{by_user}");
    assert_eq!(by_user["hashed"], "user_id");
    assert_eq!(on_phone["variation"], by_user["variation"]);
    assert_eq!(on_laptop["variation"], by_user["variation"]);
    assert_eq!(on_phone["profile_id"], on_laptop["profile_id"]);
    let (_, stranger) = silta
        .call(
            Method::GET,
            &assign("anonymous_id", "stranger", false),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(stranger["hashed"], "anonymous_id");

    // Bulk: 300 unknown visitors spread over the three variations.
    let people: Vec<Value> = (0..300)
        .map(
            |index| json!({"identifier_type": "anonymous_id", "value": format!("visitor-{index}")}),
        )
        .collect();
    let (status, bulk) = silta
        .call(
            Method::POST,
            "/v1/experiments/checkout-button/assignments",
            &marketer,
            json!({"people": people}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut counts = [0u32; 3];
    for assignment in bulk.as_array().expect("assignments") {
        counts[assignment["variation"].as_u64().expect("variation") as usize] += 1;
    }
    assert!(
        counts.iter().all(|&count| (70..=130).contains(&count)),
        "{counts:?}"
    );

    let exposures = silta
        .sql(
            "SELECT anonymous_id, json_get_str(properties, 'experiment_id') AS experiment, \
             json_get_int(properties, 'variation_id') AS variation FROM events \
             WHERE event = 'Experiment Viewed' ORDER BY anonymous_id",
        )
        .await;
    let variation = by_user["variation"].clone();
    assert_eq!(
        exposures,
        vec![
            json!({"anonymous_id": "laptop", "experiment": "checkout-button", "variation": variation}),
            json!({"anonymous_id": "phone", "experiment": "checkout-button", "variation": variation}),
        ]
    );

    let (status, _) = silta
        .call(
            Method::DELETE,
            "/v1/experiments/checkout-button",
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = silta
        .call(
            Method::GET,
            &assign("user_id", "ada", false),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
