//! Consent: read from events, recorded by API with its history, enforced on lookups for a
//! purpose and, per source, at collection.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

fn with_consent(body: Value, preferences: Value) -> String {
    let mut body = body;
    body["context"] = json!({"consent": {"categoryPreferences": preferences}});
    body.to_string()
}

#[tokio::test]
async fn consent_from_events_and_from_the_api_gates_lookups_for_a_purpose_and_survives_restarts() {
    let silta = TestSilta::start().await;
    let marketer = silta.marketer_token.clone();
    let identify = json!({
        "userId": "u-consent", "messageId": "c-1", "timestamp": "2026-11-20T10:00:00Z",
        "traits": {"email": "ada@example.com"}, "writeKey": silta.write_key,
    });
    let (status, answer) = silta
        .post_json(
            "/v1/identify",
            with_consent(
                identify,
                json!({"Analytics": true, "Marketing": false, "Functional": true}),
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let profile_path = "/v1/profiles/email/ada@example.com";
    let (status, profile) = silta
        .call(Method::GET, profile_path, &marketer, Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["consent"]["purposes"]["analytics"]["granted"], true);
    assert_eq!(
        profile["consent"]["purposes"]["marketing"]["granted"],
        false
    );
    assert!(profile["consent"]["purposes"].get("functional").is_none());
    let gated = |purpose: &str| format!("{profile_path}?purpose={purpose}");
    for (purpose, expected) in [
        ("analytics", StatusCode::OK),
        ("marketing", StatusCode::NOT_FOUND),
        ("advertising", StatusCode::NOT_FOUND),
        ("sales", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = silta
            .call(Method::GET, &gated(purpose), &marketer, Value::Null)
            .await;
        assert_eq!(status, expected, "lookup for {purpose}");
    }
    let (status, _) = silta
        .call(
            Method::GET,
            &format!("{profile_path}/events?purpose=marketing"),
            &marketer,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the timeline is gated too");

    let consent_path = "/v1/profiles/user_id/u-consent/consent";
    for (body, code) in [
        (json!({"purposes": {}}), "invalid_request"),
        (json!({"purposes": {"sales": true}}), "unknown_purpose"),
        (json!({"purposes": {"marketing": "yes"}}), "invalid_request"),
    ] {
        let (status, answer) = silta.call(Method::PUT, consent_path, &marketer, body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code))
        );
    }
    let (status, updated) = silta
        .call(
            Method::PUT,
            consent_path,
            &marketer,
            json!({"purposes": {"marketing": true, "personalisation": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["consent"]["purposes"]["marketing"]["granted"], true);
    assert_eq!(
        updated["consent"]["purposes"]["marketing"]["source"],
        "silta"
    );
    let marketing_history: Vec<bool> = updated["consent"]["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|change| change["purpose"] == "marketing")
        .map(|change| change["granted"].as_bool().expect("bool"))
        .collect();
    assert_eq!(marketing_history, [false, true]);
    let (status, _) = silta
        .call(Method::GET, &gated("marketing"), &marketer, Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        silta
            .sql("SELECT json_get_bool(consent, 'marketing') AS marketing FROM profiles")
            .await,
        vec![json!({"marketing": true})]
    );

    // The answer is an event like any other: a restart rebuilds the same consent.
    let (data, write_key) = silta.stop().await;
    let silta = TestSilta::reopen(data, write_key).await;
    let (status, profile) = silta
        .call(
            Method::GET,
            &gated("personalisation"),
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["consent"]["purposes"]["marketing"]["granted"], true);
    assert_eq!(
        profile["consent"]["history"].as_array().map(Vec::len),
        Some(4)
    );
}

#[tokio::test]
async fn a_source_drops_or_anonymises_events_without_analytics_consent() {
    let silta = TestSilta::start().await;
    let admin = silta.admin_token.clone();
    let (_, sources) = silta
        .call(Method::GET, "/v1/sources", &admin, Value::Null)
        .await;
    let source_id = sources[0]["id"].as_str().expect("id").to_string();
    let policy_path = format!("/v1/sources/{source_id}");
    let set_policy = |policy: &'static str| {
        silta.call(
            Method::PATCH,
            &policy_path,
            &admin,
            json!({"consent_policy": policy}),
        )
    };
    let batch = |prefix: &str| {
        json!({"writeKey": silta.write_key, "batch": [
            {"type": "track", "event": "Viewed", "userId": format!("{prefix}-granted"), "messageId": format!("{prefix}-1"),
             "context": {"consent": {"categoryPreferences": {"analytics": true}}}},
            {"type": "track", "event": "Viewed", "userId": format!("{prefix}-refused"), "messageId": format!("{prefix}-2"),
             "context": {"consent": {"categoryPreferences": {"analytics": false}},
                         "traits": {"email": "hidden@example.com"}, "device": {"id": "device-9", "type": "ios"}}},
            {"type": "track", "event": "Viewed", "anonymousId": format!("{prefix}-silent"), "messageId": format!("{prefix}-3")}
        ]})
        .to_string()
    };

    let (status, source) = set_policy("drop").await;
    assert_eq!(
        (status, source["consent_policy"].as_str()),
        (StatusCode::OK, Some("drop"))
    );
    let (status, outcome) = silta.post_json("/v1/batch", batch("d"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (outcome["accepted"].as_u64(), outcome["withheld"].as_u64()),
        (Some(1), Some(2))
    );

    let (status, _) = set_policy("anonymise").await;
    assert_eq!(status, StatusCode::OK);
    let (_, outcome) = silta.post_json("/v1/batch", batch("a"), None).await;
    assert_eq!(outcome["accepted"].as_u64(), Some(3));
    assert!(outcome.get("withheld").is_none());

    let (status, _) = set_policy("keep").await;
    assert_eq!(status, StatusCode::OK);
    let (_, outcome) = silta.post_json("/v1/batch", batch("k"), None).await;
    assert_eq!(outcome["accepted"].as_u64(), Some(3));

    let rows = silta
        .sql(
            "SELECT message_id, user_id, anonymous_id, json_get_str(context, 'device', 'type') AS device \
             FROM events ORDER BY message_id",
        )
        .await;
    assert_eq!(
        rows,
        vec![
            // Null columns are left out of the rows.
            json!({"message_id": "a-1", "user_id": "a-granted"}),
            json!({"message_id": "a-2", "device": "ios"}),
            json!({"message_id": "a-3"}),
            json!({"message_id": "d-1", "user_id": "d-granted"}),
            json!({"message_id": "k-1", "user_id": "k-granted"}),
            json!({"message_id": "k-2", "user_id": "k-refused", "device": "ios"}),
            json!({"message_id": "k-3", "anonymous_id": "k-silent"}),
        ]
    );
    let stored = silta
        .sql("SELECT context FROM events WHERE message_id = 'a-2'")
        .await;
    assert!(!stored[0].to_string().contains("hidden@example.com"));
    assert!(!stored[0].to_string().contains("device-9"));

    let (status, answer) = set_policy("forget").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = silta
        .call(
            Method::PATCH,
            "/v1/sources/src_unknown",
            &admin,
            json!({"consent_policy": "drop"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, audit) = silta
        .call(Method::GET, "/v1/audit", &admin, Value::Null)
        .await;
    let policies: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == "source.policies_changed")
        .map(|entry| entry["detail"]["consent_policy"].as_str().expect("policy"))
        .collect();
    assert_eq!(policies, ["drop", "anonymise", "keep"]);
}
