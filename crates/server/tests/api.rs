//! The collection API's contract, error paths included, through the real router and pipeline.

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestSilta;
use serde_json::json;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn a_valid_event_is_queryable_as_soon_as_it_is_acknowledged() {
    let silta = TestSilta::start().await;
    let body = json!({"userId": "u1", "event": "Signed Up", "properties": {"plan": "pro"}, "messageId": "m-1"});
    let (status, answer) = silta
        .post_json("/v1/track", body.to_string(), Some(&silta.basic()))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let rows = silta
        .sql("SELECT type, event, user_id, channel, properties->>'plan' AS plan, ip FROM events WHERE message_id = 'm-1'")
        .await;
    assert_eq!(
        rows,
        vec![
            json!({"type": "track", "event": "Signed Up", "user_id": "u1", "channel": "web", "plan": "pro", "ip": "198.51.100.0"})
        ]
    );
}

#[tokio::test]
async fn the_write_key_is_read_from_every_place_clients_put_it() {
    let silta = TestSilta::start().await;
    let event = |id: &str| json!({"userId": "u", "event": "E", "messageId": id});
    let (status, _) = silta
        .post_json(
            "/v1/track",
            event("basic").to_string(),
            Some(&silta.basic()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut in_body = event("body");
    in_body["writeKey"] = json!(silta.write_key);
    let (status, _) = silta.post_json("/v1/t", in_body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
    let request = Request::post("/v1/track")
        .header("x-write-key", &silta.write_key)
        .body(Body::from(event("header").to_string()))
        .expect("request");
    assert_eq!(silta.send(request).await.0, StatusCode::OK);
    let (status, _) = silta
        .post_json(
            &format!("/v1/track?writeKey={}", silta.write_key),
            event("query").to_string(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let rows = silta
        .sql("SELECT message_id FROM events ORDER BY message_id")
        .await;
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|row| row["message_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["basic", "body", "header", "query"]);
}

#[tokio::test]
async fn batches_merge_envelope_context_and_keep_the_valid_events_of_a_partly_invalid_batch() {
    let silta = TestSilta::start().await;
    let body = json!({
        "writeKey": silta.write_key,
        "context": {"library": {"name": "analytics-node"}},
        "batch": [
            {"type": "identify", "userId": "u1", "traits": {"email": "a@example.com"}, "messageId": "ok-1"},
            {"type": "track", "userId": "u1", "messageId": "bad-1"},
            {"type": "page", "anonymousId": "anon", "properties": {"url": "https://shop.example/x?utm_source=news"}, "messageId": "ok-2"},
            {"type": "alias", "userId": "u1", "messageId": "bad-2"}
        ]
    });
    let (status, answer) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 2);
    assert_eq!(
        answer["rejected"],
        json!([
            {"index": 1, "messageId": "bad-1", "reason": "track requires `event`"},
            {"index": 3, "messageId": "bad-2", "reason": "alias requires `previousId`"}
        ])
    );
    let events = silta
        .sql("SELECT message_id, utm_source, json_get_str(context, 'library', 'name') AS library FROM events ORDER BY message_id")
        .await;
    assert_eq!(
        events,
        vec![
            json!({"message_id": "ok-1", "library": "analytics-node"}),
            json!({"message_id": "ok-2", "utm_source": "news", "library": "analytics-node"}),
        ]
    );
    let quarantined = silta
        .sql("SELECT message_id, reason FROM quarantine ORDER BY message_id")
        .await;
    assert_eq!(
        quarantined,
        vec![
            json!({"message_id": "bad-1", "reason": "track requires `event`"}),
            json!({"message_id": "bad-2", "reason": "alias requires `previousId`"}),
        ]
    );
}

#[tokio::test]
async fn gzip_bodies_are_accepted_with_or_without_the_header_and_as_text_plain() {
    let silta = TestSilta::start().await;
    let body = json!({"batch": [{"type": "track", "event": "E", "userId": "u", "messageId": "gz-1"}], "writeKey": silta.write_key});
    let with_header = Request::post("/v1/batch")
        .header("content-encoding", "gzip")
        .header("content-type", "application/json")
        .body(Body::from(gzip(body.to_string().as_bytes())))
        .expect("request");
    assert_eq!(silta.send(with_header).await.0, StatusCode::OK);
    let body = json!({"batch": [{"type": "track", "event": "E", "userId": "u", "messageId": "gz-2"}], "writeKey": silta.write_key});
    let magic_only = Request::post("/v1/b")
        .header("content-type", "text/plain")
        .body(Body::from(gzip(body.to_string().as_bytes())))
        .expect("request");
    assert_eq!(silta.send(magic_only).await.0, StatusCode::OK);
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM events").await,
        vec![json!({"n": 2})]
    );
}

#[tokio::test]
async fn every_refusal_has_the_status_clients_act_on_and_a_json_error() {
    let silta = TestSilta::start_with(tempfile::tempdir().expect("tempdir"), |config| {
        config.limits.max_body_bytes = 4096;
        config.limits.max_batch_events = 3;
        config.limits.max_event_bytes = 512;
        config.rate_limit_events_per_second = 5;
    })
    .await;
    let basic = silta.basic();
    let event = json!({"type": "track", "event": "E", "userId": "u"});
    /// name, body, authorization header, expected status, expected error code
    type Case<'a> = (&'a str, Vec<u8>, Option<String>, StatusCode, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "malformed json",
            b"{\"batch\": [".to_vec(),
            Some(basic.clone()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "not an object",
            b"[1,2,3]".to_vec(),
            Some(basic.clone()),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "empty body",
            Vec::new(),
            Some(basic.clone()),
            StatusCode::BAD_REQUEST,
            "empty_body",
        ),
        (
            "no batch",
            b"{}".to_vec(),
            Some(basic.clone()),
            StatusCode::BAD_REQUEST,
            "missing_batch",
        ),
        (
            "too many events",
            json!({"batch": [event, event, event, event]})
                .to_string()
                .into_bytes(),
            Some(basic.clone()),
            StatusCode::BAD_REQUEST,
            "too_many_events",
        ),
        (
            "oversize body",
            vec![b' '; 5000],
            Some(basic.clone()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "gzip bomb",
            gzip(&vec![b' '; 10 * 1024 * 1024]),
            Some(basic.clone()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "broken gzip",
            vec![0x1f, 0x8b, 1, 2, 3],
            Some(basic.clone()),
            StatusCode::BAD_REQUEST,
            "bad_gzip",
        ),
        (
            "missing write key",
            json!({"batch": [event]}).to_string().into_bytes(),
            None,
            StatusCode::UNAUTHORIZED,
            "missing_write_key",
        ),
        (
            "unknown write key",
            json!({"batch": [event], "writeKey": "nope"})
                .to_string()
                .into_bytes(),
            None,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
    ];
    for (name, body, auth, expected_status, expected_code) in cases {
        let (status, answer) = silta.post_json("/v1/batch", body, auth.as_deref()).await;
        assert_eq!(status, expected_status, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], expected_code, "{name}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "{name}"
        );
    }
    // Bodies that could not be parsed counted against the source's rate limit too (one event
    // each); a second refills it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // One invalid single event is refused with 400, and kept.
    let (status, answer) = silta
        .post_json(
            "/v1/track",
            json!({"userId": "u"}).to_string(),
            Some(&basic),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_event"))
    );
    let oversize_event = json!({"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"blob": "x".repeat(600)}}]});
    let (status, answer) = silta
        .post_json("/v1/batch", oversize_event.to_string(), Some(&basic))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["rejected"][0]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("limit is 512")),
        "{answer}"
    );
    // The rate limit: 5 events a second, two already used above.
    let three = json!({"batch": [event, event, event]}).to_string();
    let (status, _) = silta
        .post_json("/v1/batch", three.clone(), Some(&basic))
        .await;
    assert_eq!(status, StatusCode::OK);
    let request = Request::post("/v1/batch")
        .header("authorization", &basic)
        .body(Body::from(three))
        .expect("request");
    let (status, headers, answer) = silta.send(request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited");
    assert_eq!(
        headers
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("1")
    );
    // Malformed bodies from a known sender are kept in quarantine with their reason.
    let kept = silta.sql("SELECT reason, payload FROM quarantine WHERE reason LIKE 'malformed%' ORDER BY payload").await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[1]["payload"], "{\"batch\": [");
}

#[tokio::test]
async fn one_client_address_is_limited_across_sources() {
    let silta = TestSilta::start_with(tempfile::tempdir().expect("tempdir"), |config| {
        config.rate_limit_events_per_second_per_ip = 5;
    })
    .await;
    let second_key = silta
        .silta
        .state
        .credentials
        .add_source(
            "App",
            silta_model::Channel::App,
            &silta_state::Actor::System,
        )
        .expect("source")
        .secret;
    let track = |write_key: &str| {
        let body = json!({"event": "E", "userId": "u", "writeKey": write_key}).to_string();
        Request::post("/v1/track")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request")
    };
    let one = std::net::SocketAddr::from(([203, 0, 113, 1], 5000));
    let other = std::net::SocketAddr::from(([203, 0, 113, 2], 5000));
    for _ in 0..5 {
        let (status, _, _) = silta.send_from(track(&silta.write_key), one).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, answer) = silta.send_from(track(&second_key), one).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
    assert_eq!(answer["error"]["code"], "rate_limited");
    assert!(headers.contains_key("retry-after"));
    let (status, _, _) = silta.send_from(track(&second_key), other).await;
    assert_eq!(status, StatusCode::OK, "another address has its own limit");
}

#[tokio::test]
async fn duplicate_message_ids_are_dropped_per_source_also_across_restarts() {
    let data = tempfile::tempdir().expect("tempdir");
    let event =
        json!({"userId": "u", "event": "Order Completed", "messageId": "dup-1"}).to_string();
    let silta = TestSilta::start_with(data, |_| {}).await;
    for _ in 0..3 {
        let (status, _) = silta
            .post_json("/v1/track", event.clone(), Some(&silta.basic()))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM events").await,
        vec![json!({"n": 1})]
    );
    let (data, write_key) = silta.stop().await;
    let restarted = TestSilta::reopen(data, write_key).await;
    let (status, _) = restarted
        .post_json("/v1/track", event, Some(&restarted.basic()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        restarted.sql("SELECT count(*) AS n FROM events").await,
        vec![json!({"n": 1})]
    );
}

#[tokio::test]
async fn queries_need_a_read_token_and_are_read_only() {
    let silta = TestSilta::start().await;
    let query = json!({"sql": "SELECT 1 AS one"}).to_string();
    let (status, answer) = silta.post_json("/v1/query", query.clone(), None).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _) = silta
        .post_json("/v1/query", query.clone(), Some(&silta.basic()))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a write key is not a read token"
    );
    let (status, _) = silta
        .post_json(
            "/v1/query",
            query.clone(),
            Some(&format!("Bearer {}", silta.viewer_token)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = silta
        .post_json(
            "/v1/query",
            query,
            Some(&format!("Bearer {}", silta.analyst_token)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["rows"], json!([{"one": 1}]));
    for statement in [
        "CREATE TABLE x (a INT)",
        "DROP TABLE events",
        "INSERT INTO events (message_id) VALUES ('x')",
        "DELETE FROM events",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let (status, answer) = silta
            .post_json(
                "/v1/query",
                json!({"sql": statement}).to_string(),
                Some(&format!("Bearer {}", silta.analyst_token)),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{statement}: {answer}");
    }
    let (status, answer) = silta
        .post_json(
            "/v1/query",
            json!({"sql": "SELEC nonsense"}).to_string(),
            Some(&format!("Bearer {}", silta.analyst_token)),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
}

#[tokio::test]
async fn analytics_js_can_load_its_settings_and_call_from_a_browser() {
    let silta = TestSilta::start().await;
    let request = Request::get(format!("/v1/projects/{}/settings", silta.write_key))
        .header("host", "cdp.example:8080")
        .body(Body::empty())
        .expect("request");
    let (status, _, settings) = silta.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        settings["integrations"]["Segment.io"]["apiHost"],
        "cdp.example:8080/v1"
    );
    assert_eq!(settings["integrations"]["Segment.io"]["protocol"], "http");
    let proxied = TestSilta::start_with(tempfile::tempdir().expect("tempdir"), |config| {
        config.public_url = Some("https://cdp.example.com/".to_string());
    })
    .await;
    let request = Request::get(format!("/v1/projects/{}/settings", proxied.write_key))
        .body(Body::empty())
        .expect("request");
    let (_, _, settings) = proxied.send(request).await;
    assert_eq!(
        (
            &settings["integrations"]["Segment.io"]["apiHost"],
            &settings["integrations"]["Segment.io"]["protocol"]
        ),
        (&json!("cdp.example.com/v1"), &json!("https"))
    );
    let unknown = Request::get("/v1/projects/nope/settings")
        .body(Body::empty())
        .expect("request");
    assert_eq!(silta.send(unknown).await.0, StatusCode::UNAUTHORIZED);
    let preflight = Request::options("/v1/t")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .expect("request");
    let (status, headers, _) = silta.send(preflight).await;
    assert!(status.is_success());
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .and_then(|value| value.to_str().ok()),
        Some("https://shop.example")
    );
}

#[tokio::test]
async fn administration_needs_the_admin_role() {
    let silta = TestSilta::start().await;
    let body = json!({"name": "App", "channel": "app"}).to_string();
    let (status, _) = silta
        .post_json(
            "/v1/sources",
            body.clone(),
            Some(&format!("Bearer {}", silta.analyst_token)),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = silta
        .post_json(
            "/v1/sources",
            body,
            Some(&format!("Bearer {}", silta.admin_token)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let new_key = created["secret"].as_str().expect("write key").to_string();
    let (status, _) = silta
        .post_json(
            "/v1/identify",
            json!({"userId": "u", "writeKey": new_key}).to_string(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        silta.sql("SELECT channel FROM events").await,
        vec![json!({"channel": "app"})]
    );
    let (status, answer) = silta
        .post_json(
            "/v1/sources",
            json!({"name": "X", "channel": "tv"}).to_string(),
            Some(&format!("Bearer {}", silta.admin_token)),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn profiles_link_anonymous_visits_to_the_user_and_queries_count_people() {
    let silta = TestSilta::start().await;
    let body = json!({
        "writeKey": silta.write_key,
        "batch": [
            {"type": "page", "anonymousId": "cookie-1", "messageId": "p-1", "timestamp": "2026-11-20T10:00:00Z",
             "properties": {"url": "https://shop.example/shoes?utm_source=news&utm_campaign=winter"}},
            {"type": "track", "anonymousId": "cookie-1", "event": "Order Completed", "messageId": "o-1",
             "timestamp": "2026-11-20T10:05:00Z", "properties": {"revenue": 30}},
            {"type": "identify", "anonymousId": "cookie-1", "userId": "u-1", "messageId": "i-1",
             "timestamp": "2026-11-20T10:06:00Z", "traits": {"email": "Ada@Example.com", "plan": "pro", "event_count": 5}},
            {"type": "track", "userId": "u-1", "event": "Order Completed", "messageId": "o-2",
             "timestamp": "2026-11-21T09:00:00Z", "properties": {"revenue": 50}},
            {"type": "page", "anonymousId": "cookie-2", "messageId": "p-2", "timestamp": "2026-11-21T09:00:00Z"},
            {"type": "identify", "anonymousId": "cookie-2", "userId": "u-2", "messageId": "i-2",
             "timestamp": "2026-11-21T09:01:00Z", "traits": {"email": "ada@example.com"}}
        ]
    });
    let (status, answer) = silta.post_json("/v1/batch", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let marketer = format!("Bearer {}", silta.marketer_token);
    let get = |path: String, auth: Option<String>| {
        let mut builder = Request::get(path);
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        silta.send(builder.body(Body::empty()).expect("request"))
    };

    let (status, _, profile) = get(
        "/v1/profiles/email/%20ADA@example.com".to_string(),
        Some(marketer.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["computed"]["event_count"], 4);
    assert_eq!(profile["computed"]["total_revenue"], 80.0);
    assert_eq!(profile["computed"]["first_touch"]["campaign"], "winter");
    assert_eq!(profile["traits"]["plan"]["value"], "pro");
    assert_eq!(
        profile["traits"]["event_count"]["value"], 5,
        "a sent trait stays a trait"
    );
    let profile_id = profile["profile_id"].as_str().expect("id").to_string();

    // u-2 shares the e-mail address, but a profile has one user id: no merge, and it is said why.
    let (_, _, other) = get(
        "/v1/profiles/user_id/u-2".to_string(),
        Some(marketer.clone()),
    )
    .await;
    assert_ne!(other["profile_id"], profile["profile_id"]);
    let refusals = silta
        .sql("SELECT message_id, reason FROM identity_refusals")
        .await;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["message_id"], "i-2");

    let (status, _, timeline) = get(
        "/v1/profiles/user_id/u-1/events?limit=2".to_string(),
        Some(marketer.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{timeline}");
    let ids: Vec<&str> = timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["message_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["o-2", "i-1"], "newest first, across identities");
    let (_, _, older) = get(
        "/v1/profiles/user_id/u-1/events?limit=2&offset=2".to_string(),
        Some(marketer.clone()),
    )
    .await;
    assert_eq!(older["events"].as_array().map(Vec::len), Some(2));

    let (status, _, merges) = get(
        format!("/v1/profiles/{profile_id}/merges"),
        Some(marketer.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{merges}");
    assert_eq!(merges["profile_id"], profile_id.as_str());

    let people = silta
        .sql("SELECT count(DISTINCT profile_id(user_id, anonymous_id)) AS people, count(DISTINCT anonymous_id) AS cookies FROM events")
        .await;
    assert_eq!(people, vec![json!({"people": 2, "cookies": 2})]);
    let profiles = silta
        .sql("SELECT profile_id, order_count, total_revenue FROM profiles WHERE user_id = 'u-1'")
        .await;
    assert_eq!(
        profiles,
        vec![json!({"profile_id": profile_id, "order_count": 2, "total_revenue": 80.0})]
    );

    for (path, auth, expected) in [
        (
            "/v1/profiles/email/ada@example.com".to_string(),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "/v1/profiles/email/ada@example.com".to_string(),
            Some(format!("Bearer {}", silta.viewer_token)),
            StatusCode::FORBIDDEN,
        ),
        (
            "/v1/profiles/shoe_size/42".to_string(),
            Some(marketer.clone()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/profiles/email/not-an-email".to_string(),
            Some(marketer.clone()),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/profiles/user_id/nobody".to_string(),
            Some(marketer.clone()),
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/profiles/user_id/u-1/events?limit=0".to_string(),
            Some(marketer.clone()),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, _, error) = get(path.clone(), auth).await;
        assert_eq!(status, expected, "{path}: {error}");
        assert!(error["error"]["message"].is_string(), "{path}: {error}");
    }

    // A restart rebuilds the graph from the events table: the same profiles, with the same ids.
    let (data, write_key) = silta.stop().await;
    let restarted = TestSilta::reopen(data, write_key).await;
    let rebuilt = restarted
        .sql("SELECT profile_id, order_count, total_revenue FROM profiles WHERE user_id = 'u-1'")
        .await;
    assert_eq!(rebuilt, profiles);
}

#[tokio::test]
async fn hostile_identifiers_in_paths_never_reach_a_query_as_code() {
    let silta = TestSilta::start().await;
    let body = json!({"userId": "u-1", "event": "Signed Up", "writeKey": silta.write_key,
                      "context": {"traits": {"email": "ada@example.com"}}});
    let (status, _) = silta.post_json("/v1/track", body.to_string(), None).await;
    assert_eq!(status, StatusCode::OK);
    let hostile = [
        "x%27%20OR%20%271%27%3D%271",
        "u-1%27%3B%20DROP%20TABLE%20events%3B%20--",
        "..%2F..%2Fstate.redb",
        "%25",
        "u-1%22%29%20OR%20true%20--",
    ];
    for value in hostile {
        for path in [
            format!("/v1/profiles/user_id/{value}"),
            format!("/v1/profiles/user_id/{value}/events"),
            format!("/v1/profiles/{value}/merges"),
            format!("/v1/subjects/user_id/{value}"),
        ] {
            let (status, answer) = silta
                .call(
                    axum::http::Method::GET,
                    &path,
                    &silta.admin_token,
                    serde_json::Value::Null,
                )
                .await;
            assert!(!status.is_server_error(), "{path}: {status}");
            let events = answer["events"].as_array().map_or(0, Vec::len);
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST || events == 0,
                "{path}: {status} {answer}"
            );
            assert!(
                !answer.to_string().contains("ada@example.com"),
                "{path} leaked: {answer}"
            );
        }
    }
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM events").await,
        vec![json!({"n": 1})]
    );
}

#[tokio::test]
async fn deeply_nested_json_is_stored_without_harm_within_the_limits_and_refused_beyond() {
    let silta = TestSilta::start().await;
    let nested = |depth: usize| {
        format!(
            "{{\"event\": \"Deep\", \"userId\": \"u\", \"properties\": {}1{}}}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        )
    };
    // Far deeper than any real event, but within the event size limit: kept as sent.
    let (status, answer) = silta
        .post_json("/v1/track", nested(5_000), Some(&silta.basic()))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        silta
            .sql("SELECT length(properties) AS bytes FROM events")
            .await,
        vec![json!({"bytes": 30_001})]
    );
    // Beyond it: refused with a reason, and kept in quarantine.
    let (status, answer) = silta
        .post_json("/v1/track", nested(50_000), Some(&silta.basic()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_event");
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM quarantine").await,
        vec![json!({"n": 1})]
    );
}

#[tokio::test]
async fn invalid_utf8_is_refused_and_kept_with_its_reason() {
    let silta = TestSilta::start().await;
    let body = vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'];
    let (status, answer) = silta
        .post_json("/v1/track", body, Some(&silta.basic()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "malformed_json");
    assert_eq!(
        silta.sql("SELECT count(*) AS n FROM quarantine").await,
        vec![json!({"n": 1})]
    );
}
