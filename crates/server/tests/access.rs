//! Access control: which role may use which route, revocation and rotation, the audit log and
//! the admin token from the configuration.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::TestSilta;
use serde_json::{Value, json};

const OPENAPI: &str = include_str!("../openapi.json");

/// A concrete path for a documented one: every `{parameter}` gets a value that parses.
fn concrete(path: &str) -> String {
    path.replace("{identifier_type}", "email")
        .replace("{value}", "ada@example.com")
        .replace("{profile_id}", "p_unknown")
        .replace("{key_id}", "wk_unknown")
        .replace("{key}", "unknown")
        .replace("{id}", "unknown")
        .replace("{version}", "1")
        .replace("{record}", "1")
}

/// Every operation the OpenAPI document guards with a bearer token, with the roles it names.
fn guarded_operations() -> Vec<(Method, String, Vec<String>)> {
    let document: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
    let mut operations = Vec::new();
    for (path, methods) in document["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            let guarded = operation["security"].as_array().is_some_and(|schemes| {
                schemes
                    .iter()
                    .any(|scheme| scheme.get("bearerToken").is_some())
            });
            if !guarded {
                continue;
            }
            let roles = operation["x-silta-roles"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} names no x-silta-roles"))
                .iter()
                .map(|role| role.as_str().expect("role").to_string())
                .collect();
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            operations.push((method, path.clone(), roles));
        }
    }
    operations
}

#[tokio::test]
async fn every_guarded_route_allows_exactly_the_roles_its_documentation_names() {
    let silta = TestSilta::start().await;
    let tokens = [
        ("admin", silta.admin_token.clone()),
        ("marketer", silta.marketer_token.clone()),
        ("analyst", silta.analyst_token.clone()),
        ("viewer", silta.viewer_token.clone()),
    ];
    let operations = guarded_operations();
    assert!(
        operations.len() >= 14,
        "{} guarded operations",
        operations.len()
    );
    for (method, path, allowed) in &operations {
        // A body no handler accepts (serde would take `[]` as a struct of defaults): an allowed
        // caller gets 400 (or 404), never a change.
        let request = |token: Option<&str>| {
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(concrete(path))
                .header("content-type", "application/json");
            if let Some(token) = token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            builder
                .body(Body::from("\"not a request\""))
                .expect("request")
        };
        let (status, _, _) = silta.send(request(None)).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let (status, _, _) = silta.send(request(Some("silta_not_a_token"))).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with an unknown token"
        );
        for (role, token) in &tokens {
            let (status, _, answer) = silta.send(request(Some(token))).await;
            if allowed.iter().any(|allowed| allowed == role) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {path} as {role}: {status} {answer}"
                );
                assert!(
                    !status.is_server_error(),
                    "{method} {path} as {role}: {status}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {role}: {answer}"
                );
            }
        }
    }
}

async fn track(silta: &TestSilta, write_key: &str) -> StatusCode {
    let body = json!({"event": "Ping", "userId": "u-1", "writeKey": write_key});
    silta.post_json("/v1/track", body.to_string(), None).await.0
}

#[tokio::test]
async fn revoked_and_rotated_keys_stop_working_at_once_and_every_change_is_audited() {
    let silta = TestSilta::start().await;
    let admin = silta.admin_token.clone();

    let (status, source) = silta
        .call(
            Method::POST,
            "/v1/sources",
            &admin,
            json!({"name": "App", "channel": "app"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let source_id = source["id"].as_str().expect("id").to_string();
    let first_key = source["secret"].as_str().expect("key").to_string();
    let keys_path = format!("/v1/sources/{source_id}/write-keys");
    let (status, second) = silta
        .call(Method::POST, &keys_path, &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let second_key = second["secret"].as_str().expect("key").to_string();
    assert_eq!(track(&silta, &first_key).await, StatusCode::OK);
    assert_eq!(track(&silta, &second_key).await, StatusCode::OK);

    let (_, keys) = silta
        .call(Method::GET, &keys_path, &admin, json!(null))
        .await;
    let listed = keys.as_array().expect("keys");
    assert_eq!(listed.len(), 2);
    assert!(
        !keys.to_string().contains(&first_key),
        "keys are listed by id only"
    );
    let first_id = listed
        .iter()
        .map(|key| key["id"].as_str().expect("id"))
        .find(|id| *id != second["id"].as_str().expect("id"))
        .expect("first key id")
        .to_string();
    let (status, _) = silta
        .call(
            Method::DELETE,
            &format!("{keys_path}/{first_id}"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(track(&silta, &first_key).await, StatusCode::UNAUTHORIZED);
    assert_eq!(track(&silta, &second_key).await, StatusCode::OK);

    let (status, created) = silta
        .call(
            Method::POST,
            "/v1/tokens",
            &admin,
            json!({"role": "analyst", "name": "reporting"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token_id = created["id"].as_str().expect("id").to_string();
    let old_secret = created["secret"].as_str().expect("secret").to_string();
    let sql = json!({"sql": "SELECT count(*) AS n FROM events"});
    let (status, _) = silta
        .call(Method::POST, "/v1/query", &old_secret, sql.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, rotated) = silta
        .call(
            Method::POST,
            &format!("/v1/tokens/{token_id}/rotate"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["secret"].as_str().expect("secret").to_string();
    assert_eq!(rotated["role"], "analyst");
    let (status, _) = silta
        .call(Method::POST, "/v1/query", &old_secret, sql.clone())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = silta
        .call(Method::POST, "/v1/query", &new_secret, sql.clone())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = silta
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{token_id}"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = silta
        .call(Method::POST, "/v1/query", &new_secret, sql)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = silta
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{token_id}"),
            &admin,
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, tokens) = silta
        .call(Method::GET, "/v1/tokens", &admin, json!(null))
        .await;
    assert!(
        !tokens.to_string().contains(&admin),
        "tokens are listed without secrets"
    );
    assert!(
        tokens
            .as_array()
            .expect("tokens")
            .iter()
            .all(|token| token["id"] != token_id.as_str())
    );

    let (status, audit) = silta
        .call(Method::GET, "/v1/audit?limit=1000", &admin, json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    let by_admin: Vec<&Value> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["actor"]["kind"] == "token")
        .collect();
    let actions: Vec<&str> = by_admin
        .iter()
        .map(|entry| entry["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "source.created",
            "write_key.created",
            "write_key.revoked",
            "token.created",
            "token.rotated",
            "token.revoked"
        ]
    );
    for entry in &by_admin {
        assert_eq!(entry["actor"]["role"], "admin");
        assert_eq!(entry["actor"]["address"], "198.51.100.23");
    }
    assert_eq!(by_admin[2]["target"], first_id.as_str());
    assert_eq!(by_admin[5]["target"], token_id.as_str());
    let text = audit.to_string();
    for secret in [&first_key, &second_key, &old_secret, &new_secret, &admin] {
        assert!(
            !text.contains(secret.as_str()),
            "the audit log holds no secrets"
        );
    }
    let (status, answer) = silta
        .call(Method::GET, "/v1/audit?limit=0", &admin, json!(null))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, _) = silta
        .call(Method::GET, "/v1/audit?after=-1", &admin, json!(null))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_admin_token_from_the_configuration_works_and_configuration_changes_are_audited() {
    let configured = "configured-admin-token-with-enough-entropy-0123456789";
    let data = tempfile::tempdir().expect("tempdir");
    let silta = TestSilta::start_with(data, |config| {
        config.admin_token = Some(silta_server::Secret(configured.to_string()));
    })
    .await;
    assert_eq!(silta.silta.initial_admin_token, None, "no token is printed");
    let (status, _) = silta
        .call(Method::GET, "/v1/tokens", configured, json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (data, write_key) = silta.stop().await;

    // Same configuration: nothing new is recorded. A changed one is.
    let silta = TestSilta::reopen(data, write_key).await;
    let (data, _) = silta.stop().await;
    let silta = TestSilta::start_with(data, |config| {
        config.query_max_rows = 77;
    })
    .await;
    let (_, audit) = silta
        .call(Method::GET, "/v1/audit", configured, json!(null))
        .await;
    let changes: Vec<&Value> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|entry| entry["action"] == "configuration.changed")
        .collect();
    let recorded: Vec<&Value> = changes
        .iter()
        .map(|entry| &entry["detail"]["query_max_rows"])
        .collect();
    assert_eq!(recorded, [&json!(10_000), &json!(77)]);
    assert!(
        !audit.to_string().contains(configured),
        "the token is never recorded"
    );
    let (status, running) = silta
        .call(Method::GET, "/v1/configuration", configured, json!(null))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        running["query_max_rows"], 77,
        "the configuration running now"
    );
    assert!(running["retention"].is_object(), "{running}");
    assert!(running.get("admin_token").is_none());
    assert!(
        !running.to_string().contains(configured),
        "the token is never shown"
    );

    let weak = tempfile::tempdir().expect("tempdir");
    let mut config = common::config_for(weak.path());
    config.admin_token = Some(silta_server::Secret("short".to_string()));
    assert!(silta_server::Silta::start(config).await.is_err());
}
