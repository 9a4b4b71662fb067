//! Pseudonymisation at collection: configured fields reach neither the tables nor the
//! write-ahead log in clear, and the key must live outside the data directory.

mod common;

use axum::http::{Method, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

#[tokio::test]
async fn configured_fields_are_stored_only_as_keyed_pseudonyms() {
    let keys = tempfile::tempdir().expect("tempdir");
    let key_file = keys.path().join("pseudonym.key");
    std::fs::write(&key_file, "0123456789abcdef0123456789abcdef-silta-test\n").expect("writes");
    let data = tempfile::tempdir().expect("tempdir");
    let silta = TestSilta::start_with(data, |config| {
        config.pseudonymise.fields = vec!["user_id".to_string(), "traits.email".to_string()];
        config.pseudonymise.key_file = Some(key_file.clone());
    })
    .await;
    let body = json!({"writeKey": silta.write_key, "batch": [
        {"type": "identify", "userId": "ada-42", "anonymousId": "cookie-1", "messageId": "m-1",
         "traits": {"email": "Ada@Example.com", "plan": "pro"}},
        {"type": "track", "userId": "ada-42", "event": "Order Completed", "messageId": "m-2"},
        {"type": "track", "userId": "ada-42", "messageId": "m-3"}
    ]});
    let (status, _) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
    let rows = silta
        .sql("SELECT user_id, anonymous_id, traits->>'email' AS email, traits->>'plan' AS plan FROM events ORDER BY message_id")
        .await;
    let user = rows[0]["user_id"].as_str().expect("user").to_string();
    assert!(user.starts_with("ps_"), "{user}");
    assert_eq!(
        rows[1]["user_id"],
        user.as_str(),
        "the same value, the same pseudonym"
    );
    assert_eq!(rows[0]["anonymous_id"], "cookie-1");
    assert!(
        rows[0]["email"]
            .as_str()
            .expect("email")
            .ends_with("@pseudonym.invalid")
    );
    assert_eq!(rows[0]["plan"], "pro");
    // Identity resolution works on pseudonyms: one person.
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM profiles").await,
        vec![json!({"n": 1})]
    );

    // Lookups and data-subject requests may name the clear value.
    let (status, profile) = silta
        .call(
            Method::GET,
            "/v1/profiles/user_id/ada-42",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let (status, export) = silta
        .call(
            Method::GET,
            "/v1/subjects/email/Ada@Example.com",
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(
        export["events"].as_array().map(Vec::len),
        Some(2),
        "{export}"
    );
    assert_eq!(
        export["quarantined"].as_array().map(Vec::len),
        Some(1),
        "{export}"
    );

    silta.silta.state.store.flush().await.expect("flushes");
    let (data, _) = silta.stop().await;
    let mut files = Vec::new();
    let mut pending = vec![data.path().to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).expect("lists") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        let bytes = std::fs::read(&path).expect("reads");
        for clear in ["ada-42", "Ada@Example.com"] {
            assert!(
                !bytes
                    .windows(clear.len())
                    .any(|window| window == clear.as_bytes()),
                "{clear} in {}",
                path.display()
            );
        }
    }

    // A key inside the data directory, or too short, stops the start.
    let inside = data.path().join("key");
    std::fs::write(&inside, "0123456789abcdef0123456789abcdef").expect("writes");
    let short = keys.path().join("short.key");
    std::fs::write(&short, "short").expect("writes");
    for key in [inside, short] {
        let mut config = common::config_for(data.path());
        config.pseudonymise.fields = vec!["user_id".to_string()];
        config.pseudonymise.key_file = Some(key);
        assert!(silta_server::Silta::start(config).await.is_err());
    }
}
