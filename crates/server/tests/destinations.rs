//! Destinations against real receivers on loopback: an HTTP server for webhooks and Debian's
//! `nats-server` for NATS. Consent, signatures, mappings, retries with `Retry-After`, dead
//! letters and their replay, isolation from a dead destination, and queues across restarts.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use common::TestSilta;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Answers every request with `status`, except that the first `fail_first` get a 503 with
/// `Retry-After: 1`; records what it was sent.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    requests: Arc<AtomicUsize>,
    status: Arc<AtomicU16>,
    fail_first: Arc<AtomicUsize>,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let seen = receiver.requests.fetch_add(1, Ordering::SeqCst);
    if seen < receiver.fail_first.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "busy".to_string(),
        );
    }
    let status = StatusCode::from_u16(receiver.status.load(Ordering::SeqCst)).expect("status");
    if status.is_success() {
        let parsed: Value = serde_json::from_str(&body).expect("json body");
        receiver
            .received
            .lock()
            .expect("lock")
            .push((headers, parsed));
    }
    (status, [("retry-after", "0")], format!("answered {status}"))
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver.status.store(200, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, format!("http://{address}/hook"))
    }

    fn bodies(&self) -> Vec<Value> {
        let received = self.received.lock().expect("lock");
        received.iter().map(|(_, body)| body.clone()).collect()
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(silta: &TestSilta, events: Vec<Value>) {
    let (status, answer) = silta
        .post_json(
            "/v1/batch",
            json!({"batch": events}).to_string(),
            Some(&silta.basic()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

fn order(user: &str, id: &str, marketing: bool) -> Value {
    json!({
        "type": "track", "event": "Order Completed", "userId": user, "messageId": id,
        "properties": {"order_id": format!("o-{id}"), "revenue": 30.5},
        "context": {"consent": {"categoryPreferences": {"marketing": marketing}},
                    "traits": {"email": format!(" {user}@Example.com")}},
    })
}

async fn create(silta: &TestSilta, spec: Value) -> Value {
    let (status, created) = silta
        .call(Method::POST, "/v1/destinations", &silta.admin_token, spec)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn stats(silta: &TestSilta, id: &str) -> Value {
    let (status, shown) = silta
        .call(
            Method::GET,
            &format!("/v1/destinations/{id}"),
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    shown["stats"].clone()
}

#[tokio::test]
async fn a_webhook_gets_consented_events_mapped_and_signed_after_retrying() {
    let silta = TestSilta::start().await;
    let (receiver, url) = Receiver::start().await;
    receiver.fail_first.store(1, Ordering::SeqCst);
    let secret_file = silta.data.path().join("hook-secret");
    std::fs::write(&secret_file, "s3cret\n").expect("secret file");
    let created = create(
        &silta,
        json!({
            "name": "CRM", "purpose": "marketing",
            "target": {"type": "webhook", "url": url, "signing_secret": {"file": secret_file}},
            "filter": {"events": ["Order Completed"]},
            "mapping": {"fields": {
                "order": "properties.order_id",
                "customer.email_sha256": {"path": "context.traits.email",
                                          "transforms": ["trim", "lowercase", "sha256"]},
                "kind": {"value": "order"},
            }},
            "delivery": {"initial_backoff_ms": 50},
        }),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(
        created["target"]["signing_secret"]["file"],
        json!(secret_file)
    );

    send(
        &silta,
        vec![
            order("ada", "m-1", true),
            order("bob", "m-2", false),
            json!({"type": "track", "event": "Page Viewed", "userId": "ada", "messageId": "m-3",
                   "context": {"consent": {"categoryPreferences": {"marketing": true}}}}),
        ],
    )
    .await;
    wait_for("ada's order", || !receiver.bodies().is_empty()).await;
    wait_for("bob's order to be passed over", || {
        receiver.requests.load(Ordering::SeqCst) >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let received = receiver.received.lock().expect("lock").clone();
    assert_eq!(received.len(), 1, "only ada consented: {received:?}");
    let (headers, body) = &received[0];
    use sha2::Digest;
    assert_eq!(
        body,
        &json!({"order": "o-m-1", "kind": "order",
                "customer": {"email_sha256": hex::encode(Sha256::digest(b"ada@example.com"))}})
    );
    let key = format!("{}:m-1", source_of(&silta).await);
    assert_eq!(headers["idempotency-key"], key.as_str());
    let signature = headers["x-silta-signature"].to_str().expect("ascii");
    let (timestamp, digest) = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .expect("t=...,v1=...");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").expect("key");
    mac.update(format!("{timestamp}.{}", serde_json::to_string(body).expect("json")).as_bytes());
    assert_eq!(digest, hex::encode(mac.finalize().into_bytes()));

    let figures = stats(&silta, &id).await;
    assert_eq!(figures["delivered"], 1, "{figures}");
    assert_eq!(figures["failed_attempts"], 1, "{figures}");
    assert_eq!(figures["suppressed_without_consent"], 1, "{figures}");
    assert_eq!(figures["queued"], 0, "{figures}");
    assert!(
        figures["last_error"]
            .as_str()
            .expect("error")
            .contains("503")
    );

    // A test delivery goes out at once, mapped, and shows the receiver's answer.
    let (status, tested) = silta
        .call(
            Method::POST,
            &format!("/v1/destinations/{id}/test"),
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["delivered"], true, "{tested}");
    assert_eq!(tested["attempt"]["status"], 200);
    assert_eq!(tested["attempt"]["answer"], "answered 200 OK");
    assert_eq!(tested["message"]["kind"], "order");

    let (status, metrics) = metrics_text(&silta).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains(&format!(
            "silta_destination_delivered_total{{destination=\"{id}\"}} 1"
        )),
        "{metrics}"
    );
}

async fn source_of(silta: &TestSilta) -> String {
    let sources = silta.silta.state.credentials.sources().expect("sources");
    sources[0].id.clone()
}

async fn metrics_text(silta: &TestSilta) -> (StatusCode, String) {
    let request = axum::http::Request::get("/metrics")
        .header("authorization", format!("Bearer {}", silta.admin_token))
        .body(axum::body::Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(silta.router.clone(), {
        let mut request = request;
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(SocketAddr::from((
                [127, 0, 0, 1],
                1,
            ))));
        request
    })
    .await
    .expect("answer");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

#[tokio::test]
async fn refused_batches_are_dead_lettered_with_their_reason_and_replayed() {
    let silta = TestSilta::start().await;
    let (receiver, url) = Receiver::start().await;
    receiver.status.store(422, Ordering::SeqCst);
    let created = create(
        &silta,
        json!({"name": "Stream", "purpose": "marketing",
               "target": {"type": "webhook", "url": url},
               "delivery": {"batch_size": 10}}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    send(
        &silta,
        vec![order("ada", "d-1", true), order("ada", "d-2", true)],
    )
    .await;
    wait_for("the dead letters", || {
        receiver.requests.load(Ordering::SeqCst) >= 1
    })
    .await;
    let dead_path = format!("/v1/destinations/{id}/dead-letters");
    let mut letters = Value::Null;
    for _ in 0..100 {
        let (status, answer) = silta
            .call(Method::GET, &dead_path, &silta.admin_token, Value::Null)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        letters = answer["dead_letters"].clone();
        if letters.as_array().is_some_and(|letters| letters.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letters = letters.as_array().expect("two dead letters");
    assert_eq!(letters.len(), 2);
    // 422 is not worth retrying: one attempt, then the dead-letter queue.
    assert_eq!(letters[0]["attempts"], 1);
    assert!(
        letters[0]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("http 422")
    );
    assert_eq!(letters[0]["event"]["messageId"], "d-1");

    receiver.status.store(200, Ordering::SeqCst);
    let (status, replayed) = silta
        .call(
            Method::POST,
            &format!("{dead_path}/replay"),
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 2);
    wait_for("the replayed batch", || !receiver.bodies().is_empty()).await;
    let batch = &receiver.bodies()[0]["batch"];
    let ids: Vec<&str> = batch
        .as_array()
        .expect("a batch")
        .iter()
        .map(|event| event["messageId"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["d-1", "d-2"]);
    let figures = stats(&silta, &id).await;
    assert_eq!(figures["dead_letters"], 0, "{figures}");
    assert_eq!(figures["dead_lettered"], 2, "{figures}");

    let (status, audit) = silta
        .call(Method::GET, "/v1/audit", &silta.admin_token, Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert!(actions.contains(&"destination.created"), "{actions:?}");
    assert!(actions.contains(&"destination.replayed"), "{actions:?}");
}

#[tokio::test]
async fn a_dead_destination_holds_back_neither_ingestion_nor_another_destination() {
    let silta = TestSilta::start().await;
    let (receiver, url) = Receiver::start().await;
    // Nothing listens on a port that was just closed.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let dead = create(
        &silta,
        json!({"name": "Down", "purpose": "marketing",
               "target": {"type": "webhook", "url": format!("http://{closed}/hook")},
               "delivery": {"initial_backoff_ms": 100, "max_attempts": 100}}),
    )
    .await;
    create(
        &silta,
        json!({"name": "Up", "purpose": "marketing",
               "target": {"type": "webhook", "url": url}, "delivery": {"batch_size": 50}}),
    )
    .await;
    let events: Vec<Value> = (0..200)
        .map(|n| order(&format!("p{}", n % 20), &format!("i-{n}"), true))
        .collect();
    for chunk in events.chunks(50) {
        send(&silta, chunk.to_vec()).await;
    }
    wait_for("every event at the live destination", || {
        receiver
            .bodies()
            .iter()
            .map(|body| body["batch"].as_array().map_or(1, Vec::len))
            .sum::<usize>()
            == 200
    })
    .await;
    let id = dead["id"].as_str().expect("id");
    let figures = stats(&silta, id).await;
    assert_eq!(figures["delivered"], 0, "{figures}");
    assert!(figures["failed_attempts"].as_u64() >= Some(1), "{figures}");
    assert_eq!(
        figures["queued"].as_u64().expect("queued") + figures["delivered"].as_u64().expect("n"),
        200,
        "{figures}"
    );
}

#[tokio::test]
async fn queued_events_survive_a_restart_and_are_delivered_once_the_receiver_is_up() {
    let silta = TestSilta::start().await;
    let (receiver, url) = Receiver::start().await;
    receiver.status.store(503, Ordering::SeqCst);
    create(
        &silta,
        json!({"name": "Later", "purpose": "marketing",
               "target": {"type": "webhook", "url": url},
               "delivery": {"initial_backoff_ms": 50, "max_backoff_ms": 200, "max_attempts": 100}}),
    )
    .await;
    send(
        &silta,
        vec![order("ada", "r-1", true), order("ada", "r-2", true)],
    )
    .await;
    wait_for("a failed attempt", || {
        receiver.requests.load(Ordering::SeqCst) >= 1
    })
    .await;
    let (data, write_key) = silta.stop().await;
    receiver.status.store(200, Ordering::SeqCst);
    let silta = TestSilta::reopen(data, write_key).await;
    wait_for("both events after the restart", || {
        receiver.bodies().len() >= 2
    })
    .await;
    let ids: Vec<String> = receiver
        .bodies()
        .iter()
        .map(|body| body["messageId"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(&ids[..2], ["r-1", "r-2"]);
    drop(silta);
}

#[tokio::test]
async fn bad_configurations_are_refused_and_only_admins_may_configure() {
    let silta = TestSilta::start().await;
    let cases = [
        (json!({"name": "x", "purpose": "marketing"}), "target"),
        (
            json!({"name": "x", "purpose": "telepathy",
                   "target": {"type": "webhook", "url": "http://127.0.0.1:1/"}}),
            "unknown purpose",
        ),
        (
            json!({"name": "x", "purpose": "marketing",
                   "target": {"type": "nats", "url": "nats://127.0.0.1:4222", "subject": "a b"}}),
            "subject",
        ),
        (
            json!({"name": "x", "purpose": "marketing",
                   "target": {"type": "webhook", "url": "http://127.0.0.1:1/"},
                   "mapping": {"fields": {"a": {"path": "userId", "value": 1}}}}),
            "exactly one of `path` and `value`",
        ),
    ];
    for (spec, expected) in cases {
        let (status, answer) = silta
            .call(Method::POST, "/v1/destinations", &silta.admin_token, spec)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains(expected), "{message} lacks {expected}");
    }
    let spec = json!({"name": "x", "purpose": "marketing",
                      "target": {"type": "webhook", "url": "http://127.0.0.1:1/"}});
    let (status, _) = silta
        .call(
            Method::POST,
            "/v1/destinations",
            &silta.marketer_token,
            spec,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Debian's nats-server on a free loopback port, stopped when dropped.
struct NatsServer {
    process: std::process::Child,
    url: String,
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

async fn nats_server() -> NatsServer {
    nats_server_with(&[]).await
}

async fn nats_server_with(options: &[&str]) -> NatsServer {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let process = std::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(options)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server is installed (scripts/test.sh installs it)");
    let url = format!("nats://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    NatsServer { process, url }
}

#[tokio::test]
async fn a_nats_subject_gets_each_consented_event_with_its_idempotency_key() {
    use futures::StreamExt;
    let nats = nats_server().await;
    let subscriber = async_nats::connect(&nats.url).await.expect("connects");
    let mut messages = subscriber
        .subscribe("silta.events")
        .await
        .expect("subscribes");
    subscriber.flush().await.expect("flush");

    let silta = TestSilta::start().await;
    create(
        &silta,
        json!({"name": "Data team", "purpose": "marketing",
               "target": {"type": "nats", "url": nats.url, "subject": "silta.events"}}),
    )
    .await;
    send(
        &silta,
        vec![
            order("ada", "n-1", true),
            order("bob", "n-2", false),
            order("ada", "n-3", true),
        ],
    )
    .await;
    let source = source_of(&silta).await;
    for expected in ["n-1", "n-3"] {
        let message = tokio::time::timeout(Duration::from_secs(20), messages.next())
            .await
            .expect("a message in time")
            .expect("subscription open");
        let body: Value = serde_json::from_slice(&message.payload).expect("json");
        assert_eq!(body["messageId"], expected);
        assert_eq!(body["properties"]["revenue"], 30.5);
        let headers = message.headers.expect("headers");
        assert_eq!(
            headers.get("Nats-Msg-Id").map(|value| value.as_str()),
            Some(format!("{source}:{expected}").as_str())
        );
    }
    // Bob refused marketing: nothing more arrives.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), messages.next())
            .await
            .is_err()
    );
}

/// Defines the audience `pro` (plan is "pro") and answers with it.
async fn pro_audience(silta: &TestSilta) -> Value {
    let (status, audience) = silta
        .call(
            Method::PUT,
            "/v1/audiences/pro",
            &silta.marketer_token,
            json!({"text": r#"trait(plan) = "pro""#}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{audience}");
    audience
}

#[tokio::test]
async fn an_audience_filter_sends_only_its_members_events() {
    let silta = TestSilta::start().await;
    let (receiver, url) = Receiver::start().await;
    // ada is a "pro" member; bob is not.
    send(
        &silta,
        vec![
            json!({"type": "identify", "userId": "ada", "messageId": "a-id", "traits": {"plan": "pro"}}),
            json!({"type": "identify", "userId": "bob", "messageId": "b-id", "traits": {"plan": "free"}}),
        ],
    )
    .await;
    assert_eq!(pro_audience(&silta).await["members"], 1);
    let (status, refused) = silta
        .call(
            Method::POST,
            "/v1/destinations",
            &silta.admin_token,
            json!({"name": "Pros", "purpose": "marketing",
                   "target": {"type": "webhook", "url": url},
                   "filter": {"audiences": ["nobody-defined-this"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let created = create(
        &silta,
        json!({"name": "Pros", "purpose": "marketing",
               "target": {"type": "webhook", "url": url},
               "filter": {"audiences": ["pro"], "events": ["Order Completed"]}}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    send(
        &silta,
        vec![order("bob", "f-1", true), order("ada", "f-2", true)],
    )
    .await;
    wait_for("ada's order", || !receiver.bodies().is_empty()).await;
    let mut figures = stats(&silta, &id).await;
    for _ in 0..100 {
        if figures["outside_audiences"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        figures = stats(&silta, &id).await;
    }
    assert_eq!(figures["outside_audiences"], 1, "{figures}");
    let ids: Vec<Value> = receiver
        .bodies()
        .iter()
        .map(|body| body["messageId"].clone())
        .collect();
    assert_eq!(ids, [json!("f-2")]);
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(Sha256::digest(text.as_bytes()))
}

async fn identify(silta: &TestSilta, user: &str, id: &str, plan: &str, marketing: bool) {
    send(
        silta,
        vec![json!({
            "type": "identify", "userId": user, "messageId": id,
            "traits": {"plan": plan, "email": format!("{user}@Example.com ")},
            "context": {"consent": {"categoryPreferences": {"marketing": marketing}}},
        })],
    )
    .await;
}

#[tokio::test]
async fn audience_entries_and_exits_reach_activating_destinations_with_hashed_emails() {
    let silta = TestSilta::start().await;
    let (receiver, url) = Receiver::start().await;
    identify(&silta, "ada", "a-1", "pro", true).await;
    // bob is a member but did not grant marketing: nothing of his is sent.
    identify(&silta, "bob", "b-1", "pro", false).await;
    identify(&silta, "cy", "c-1", "free", true).await;
    assert_eq!(pro_audience(&silta).await["members"], 2);
    // A customer list for an ad platform: the audience, the change and the hashed email.
    let created = create(
        &silta,
        json!({"name": "Ads list", "purpose": "marketing",
               "target": {"type": "webhook", "url": url},
               "activate": ["pro"], "forward_events": false,
               "mapping": {"fields": {
                   "audience": "properties.audience_key",
                   "change": "event",
                   "email_sha256": {"path": "context.traits.email", "transforms": ["sha256"]}}}}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    let (status, synced) = silta
        .call(
            Method::POST,
            &format!("/v1/destinations/{id}/sync"),
            &silta.admin_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{synced}");
    assert_eq!(synced["queued"], json!({"pro": 2}));
    wait_for("the full sync", || !receiver.bodies().is_empty()).await;
    assert_eq!(
        receiver.bodies(),
        [json!({"audience": "pro", "change": "Audience Entered",
                "email_sha256": sha256_hex("ada@example.com")})]
    );

    // Collected events are not forwarded by a destination that only activates audiences.
    send(&silta, vec![order("ada", "o-1", true)]).await;
    // cy joins, ada leaves: the next refresh sends both changes.
    identify(&silta, "cy", "c-2", "pro", true).await;
    identify(&silta, "ada", "a-2", "free", true).await;
    let (status, refreshed) = silta
        .call(
            Method::POST,
            "/v1/audiences/pro/refresh",
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(
        (refreshed["entered"].clone(), refreshed["exited"].clone()),
        (json!(1), json!(1))
    );
    wait_for("the refresh's changes", || receiver.bodies().len() >= 3).await;
    let mut changes: Vec<Value> = receiver.bodies()[1..].to_vec();
    changes.sort_by_key(|body| body["change"].to_string());
    assert_eq!(
        changes,
        [
            json!({"audience": "pro", "change": "Audience Entered",
                   "email_sha256": sha256_hex("cy@example.com")}),
            json!({"audience": "pro", "change": "Audience Exited",
                   "email_sha256": sha256_hex("ada@example.com")}),
        ]
    );
    let figures = stats(&silta, &id).await;
    assert_eq!(figures["delivered"], 3, "{figures}");
    assert_eq!(figures["suppressed_without_consent"], 1, "{figures}");

    let (status, refused) = silta
        .call(
            Method::POST,
            "/v1/destinations",
            &silta.admin_token,
            json!({"name": "Ads", "purpose": "marketing",
                   "target": {"type": "webhook", "url": url}, "activate": ["no-such"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("activate names `no-such`")
    );
    let (status, _) = silta
        .call(
            Method::POST,
            &format!("/v1/destinations/{id}/sync"),
            &silta.marketer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Every data row of the CSV files under `directory`, each as its cells.
fn csv_rows(directory: &std::path::Path) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for day in std::fs::read_dir(directory).expect("export directory") {
        let day = day.expect("entry").path();
        assert!(
            day.file_name()
                .expect("name")
                .to_string_lossy()
                .starts_with("dt=")
        );
        for file in std::fs::read_dir(&day).expect("day directory") {
            let mut reader = csv::Reader::from_path(file.expect("file").path()).expect("csv");
            let header: Vec<String> = reader
                .headers()
                .expect("header")
                .iter()
                .map(String::from)
                .collect();
            // A mapping's fields come out in name order.
            assert_eq!(header, ["idempotency_key", "event", "revenue", "user"]);
            for row in reader.records() {
                rows.push(row.expect("row").iter().map(String::from).collect());
            }
        }
    }
    rows.sort();
    rows
}

#[tokio::test]
async fn a_files_destination_writes_periodic_csv_exports_of_consented_events() {
    let silta = TestSilta::start().await;
    let exports = tempfile::tempdir().expect("tempdir");
    let created = create(
        &silta,
        json!({"name": "Data lake", "purpose": "marketing",
               "target": {"type": "files", "url": format!("file://{}", exports.path().display()),
                          "format": "csv"},
               "mapping": {"fields": {"event": "event", "user": "userId",
                                      "revenue": "properties.revenue"}},
               "delivery": {"batch_size": 3, "linger_ms": 300}}),
    )
    .await;
    let id = created["id"].as_str().expect("id").to_string();
    send(
        &silta,
        (1..=5)
            .map(|n| order(&format!("u{n}"), &format!("f-{n}"), n != 4))
            .collect(),
    )
    .await;
    let source = source_of(&silta).await;
    wait_for("four exported rows", || {
        std::fs::read_dir(exports.path()).is_ok_and(|mut days| days.next().is_some())
            && csv_rows(exports.path()).len() == 4
    })
    .await;
    let expected: Vec<Vec<String>> = [1, 2, 3, 5]
        .iter()
        .map(|n| {
            vec![
                format!("{source}:f-{n}"),
                "Order Completed".to_string(),
                "30.5".to_string(),
                format!("u{n}"),
            ]
        })
        .collect();
    assert_eq!(csv_rows(exports.path()), expected);
    let figures = stats(&silta, &id).await;
    assert_eq!(figures["delivered"], 4, "{figures}");

    let (status, refused) = silta
        .call(
            Method::POST,
            "/v1/destinations",
            &silta.admin_token,
            json!({"name": "Lake", "purpose": "marketing",
                   "target": {"type": "files", "url": "file://relative/dir"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    let (status, refused) = silta
        .call(
            Method::POST,
            "/v1/destinations",
            &silta.admin_token,
            json!({"name": "Lake", "purpose": "marketing",
                   "target": {"type": "files", "url": "file:///tmp/x", "region": "eu-north-1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .expect("message")
            .contains("only to s3://")
    );
}

#[tokio::test]
async fn a_jetstream_stream_acknowledges_and_stores_each_consented_event_once() {
    let store = tempfile::tempdir().expect("tempdir");
    let directory = store.path().display().to_string();
    let nats = nats_server_with(&["-js", "-sd", &directory]).await;
    let client = async_nats::connect(&nats.url).await.expect("connects");
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: "SILTA".to_string(),
            subjects: vec!["silta.stored".to_string()],
            ..Default::default()
        })
        .await
        .expect("stream");

    let silta = TestSilta::start().await;
    let stored = create(
        &silta,
        json!({"name": "Stream", "purpose": "marketing",
               "target": {"type": "nats", "url": nats.url, "subject": "silta.stored", "jetstream": true},
               "delivery": {"batch_size": 10}}),
    )
    .await;
    // No stream listens on this subject: without acknowledgements nothing is delivered.
    let unstored = create(
        &silta,
        json!({"name": "Nowhere", "purpose": "marketing",
               "target": {"type": "nats", "url": nats.url, "subject": "silta.nowhere", "jetstream": true},
               "delivery": {"initial_backoff_ms": 100, "max_backoff_ms": 200}}),
    )
    .await;
    send(
        &silta,
        vec![
            order("ada", "j-1", true),
            order("bob", "j-2", false),
            order("ada", "j-3", true),
        ],
    )
    .await;
    let stored_id = stored["id"].as_str().expect("id").to_string();
    let mut figures = stats(&silta, &stored_id).await;
    for _ in 0..200 {
        if figures["delivered"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        figures = stats(&silta, &stored_id).await;
    }
    assert_eq!(figures["delivered"], 2, "{figures}");
    let info = stream.info().await.expect("stream info");
    assert_eq!(info.state.messages, 2);
    let first = stream.get_raw_message(1).await.expect("first message");
    let body: Value = serde_json::from_slice(&first.payload).expect("json");
    assert_eq!(body["messageId"], "j-1");

    let unstored_id = unstored["id"].as_str().expect("id").to_string();
    let mut figures = stats(&silta, &unstored_id).await;
    for _ in 0..200 {
        if figures["failed_attempts"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        figures = stats(&silta, &unstored_id).await;
    }
    assert!(
        figures["failed_attempts"].as_u64().unwrap_or(0) >= 2,
        "{figures}"
    );
    assert_eq!(figures["delivered"], 0, "{figures}");
    assert!(
        figures["last_error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("jetstream"),
        "{figures}"
    );
}
