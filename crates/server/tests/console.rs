//! The console's own endpoints: who is signed in, the overview figures, the live debugger; and
//! the console's files with their headers. The pages themselves are tested in Chromium
//! (tests/node/console.test.mjs).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::TestSilta;
use serde_json::{Value, json};

fn track(id: &str, user: &str, event: &str) -> Value {
    json!({"type": "track", "messageId": id, "userId": user, "event": event,
           "properties": {"revenue": 5}})
}

#[tokio::test]
async fn the_session_names_the_role_and_exactly_what_it_may_do() {
    let silta = TestSilta::start().await;
    let (status, admin) = silta
        .call(Method::GET, "/v1/session", &silta.admin_token, Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["permissions"].as_array().map(Vec::len), Some(11));
    let (_, viewer) = silta
        .call(Method::GET, "/v1/session", &silta.viewer_token, Value::Null)
        .await;
    assert_eq!(viewer["role"], "viewer");
    assert_eq!(viewer["permissions"], json!(["analytics"]));
    let (status, _) = silta
        .call(Method::GET, "/v1/session", "unknown-token", Value::Null)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_overview_counts_events_per_minute_source_and_channel() {
    let silta = TestSilta::start().await;
    let batch: Vec<Value> = (0..7)
        .map(|index| track(&format!("m{index}"), "ada", "Order Completed"))
        .collect();
    let body = json!({"writeKey": silta.write_key, "batch": batch});
    let (status, _) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, overview) = silta
        .call(
            Method::GET,
            "/v1/overview?minutes=5",
            &silta.viewer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{overview}");
    assert_eq!(overview["events"], 7);
    assert_eq!(overview["bots"], 0);
    let per_minute = overview["per_minute"].as_array().expect("per minute");
    let counted: u64 = per_minute
        .iter()
        .map(|row| row["events"].as_u64().unwrap_or_default())
        .sum();
    assert_eq!(counted, 7);
    assert!(per_minute.iter().all(|row| row["source"] == "Web shop"));
    assert!(overview["storage_bytes"].as_u64().unwrap_or_default() > 0);
    for minutes in ["0", "1441", "x"] {
        let (status, _) = silta
            .call(
                Method::GET,
                &format!("/v1/overview?minutes={minutes}"),
                &silta.viewer_token,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "minutes={minutes}");
    }
}

#[tokio::test]
async fn the_debugger_shows_the_newest_events_as_sent_and_only_newer_ones_when_polled() {
    let silta = TestSilta::start().await;
    let first: Vec<Value> = (0..3)
        .map(|index| track(&format!("first-{index}"), "ada", "Product Viewed"))
        .collect();
    let body = json!({"writeKey": silta.write_key, "batch": first});
    silta.post_json("/v1/batch", body.to_string(), None).await;
    let (status, answer) = silta
        .call(
            Method::GET,
            "/v1/debugger/events?limit=2",
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let events = answer["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["message"]["messageId"], "first-2");
    assert_eq!(events[1]["message"]["messageId"], "first-1");
    assert_eq!(events[0]["message"]["properties"]["revenue"], 5);
    assert_eq!(events[0]["source"], "Web shop");
    let newest = events[0]["lsn"].as_i64().expect("lsn");

    let body = json!({"writeKey": silta.write_key,
                      "batch": [track("second", "ada", "Order Completed")]});
    silta.post_json("/v1/batch", body.to_string(), None).await;
    let (_, answer) = silta
        .call(
            Method::GET,
            &format!("/v1/debugger/events?after_lsn={newest}"),
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    let ids: Vec<&Value> = answer["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| &event["message"]["messageId"])
        .collect();
    assert_eq!(ids, [&json!("second")]);

    let (_, answer) = silta
        .call(
            Method::GET,
            "/v1/debugger/events?event=Product%20Viewed",
            &silta.analyst_token,
            Value::Null,
        )
        .await;
    assert_eq!(answer["events"].as_array().map(Vec::len), Some(3));
    let long_name = "x".repeat(201);
    for bad in [
        "limit=0",
        "limit=201",
        "after_lsn=x",
        "colour=red",
        &format!("event={long_name}"),
    ] {
        let (status, _) = silta
            .call(
                Method::GET,
                &format!("/v1/debugger/events?{bad}"),
                &silta.analyst_token,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/debugger/events",
            &silta.viewer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_strict_headers() {
    let silta = TestSilta::start().await;
    let get = |path: &str| Request::get(path).body(Body::empty()).expect("request");
    let (status, headers, _) = silta.send(get("/")).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/console/");
    let (status, headers, _) = silta.send(get("/console/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let policy = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap_or_default();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe"),
        "{policy}"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let etag = headers[header::ETAG].clone();
    let revalidate = Request::get("/console/")
        .header(header::IF_NONE_MATCH, etag)
        .body(Body::empty())
        .expect("request");
    let (status, _, _) = silta.send(revalidate).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, headers, _) = silta.send(get("/console/vendor/chart.umd.min.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or_default()
            .contains("javascript")
    );
    for missing in [
        "/console/missing.js",
        "/console/../Cargo.toml",
        "/console/%2e%2e/Cargo.toml",
    ] {
        let (status, _, _) = silta.send(get(missing)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn a_profile_is_found_by_its_own_id_as_the_console_links_it() {
    let silta = TestSilta::start().await;
    let body = json!({"writeKey": silta.write_key, "batch": [track("p1", "ada", "Signed Up")]});
    silta.post_json("/v1/batch", body.to_string(), None).await;
    let (status, by_user) = silta
        .call(
            Method::GET,
            "/v1/profiles/user_id/ada",
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_user}");
    let profile_id = by_user["profile_id"].as_str().expect("profile id");
    let (status, by_id) = silta
        .call(
            Method::GET,
            &format!("/v1/profiles/profile_id/{profile_id}"),
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id["identifiers"], by_user["identifiers"]);
    let (_, timeline) = silta
        .call(
            Method::GET,
            &format!("/v1/profiles/profile_id/{profile_id}/events"),
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(timeline["events"][0]["message_id"], "p1");
    let (status, _) = silta
        .call(
            Method::GET,
            "/v1/profiles/profile_id/p_unknown",
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
