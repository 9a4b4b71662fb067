//! The real `silta` binary, killed with SIGKILL while it ingests for a webhook that is down:
//! after the restart every acknowledged event reaches the webhook.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{cli_output, start_server};
use serde_json::{Value, json};

/// A webhook receiver that answers 503 until `up`, then records each event's message id.
async fn receiver() -> (Arc<AtomicBool>, Arc<Mutex<HashSet<String>>>, String) {
    let up = Arc::new(AtomicBool::new(false));
    let received = Arc::new(Mutex::new(HashSet::new()));
    let (is_up, into) = (up.clone(), received.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let (is_up, into) = (is_up.clone(), into.clone());
            async move {
                if !is_up.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let parsed: Value = serde_json::from_str(&body).expect("json");
                let mut received = into.lock().expect("lock");
                for event in parsed["batch"].as_array().expect("a batch") {
                    received.insert(event["messageId"].as_str().expect("id").to_string());
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (up, received, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_reach_a_webhook_after_kill_9() {
    let data = tempfile::tempdir().expect("tempdir");
    let write_key = cli_output(
        data.path(),
        &["sources", "add", "--name", "Crash", "--channel", "server"],
    );
    let (up, received, url) = receiver().await;
    let spec = data.path().join("hook.json");
    std::fs::write(
        &spec,
        json!({"name": "Hook", "purpose": "analytics",
               "target": {"type": "webhook", "url": url},
               // The load comes from one address, faster than the bot rules allow a person.
               "filter": {"include_bots": true},
               "delivery": {"batch_size": 200, "initial_backoff_ms": 50, "max_backoff_ms": 200,
                            "max_attempts": 100}})
        .to_string(),
    )
    .expect("spec");
    let added: Value = serde_json::from_str(&cli_output(
        data.path(),
        &["destinations", "add", spec.to_str().expect("utf-8")],
    ))
    .expect("json");
    assert!(
        added["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("dst_"))
    );

    let mut server = start_server(data.path());
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let url = format!("{}/v1/batch", server.url);
        let (write_key, acknowledged) = (write_key.clone(), acknowledged.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for request in 0.. {
                let ids: Vec<String> = (0..50).map(|event| format!("w{worker}-r{request}-e{event}")).collect();
                let batch: Vec<Value> = ids
                    .iter()
                    .map(|id| json!({"type": "track", "event": "Crashed", "userId": format!("u{worker}"), "messageId": id,
                                     "context": {"consent": {"categoryPreferences": {"analytics": true}}}}))
                    .collect();
                let answer = client
                    .post(&url)
                    .basic_auth(&write_key, Some(""))
                    .body(json!({"batch": batch}).to_string())
                    .send()
                    .await;
                match answer {
                    Ok(response) if response.status().is_success() => {
                        acknowledged.lock().expect("lock").extend(ids);
                    }
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    for worker in workers {
        worker.await.expect("worker ends");
    }
    let acknowledged: Vec<String> = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 500,
        "too little load: {}",
        acknowledged.len()
    );

    up.store(true, Ordering::SeqCst);
    let mut server = start_server(data.path());
    let started = Instant::now();
    loop {
        let missing = {
            let received = received.lock().expect("lock");
            acknowledged
                .iter()
                .filter(|id| !received.contains(*id))
                .count()
        };
        if missing == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{missing} of {} acknowledged events never reached the webhook",
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} acknowledged events delivered after kill -9 and restart",
        acknowledged.len()
    );
    server.child.kill().expect("stop");
    server.child.wait().expect("reaped");
}
