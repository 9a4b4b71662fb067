//! The real `silta` binary, killed with SIGKILL under load: every acknowledged event is in the
//! events table exactly once after the restart.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, cli_output, start_server};
use serde_json::json;

async fn stored_message_ids(server: &Server, token: &str) -> Vec<String> {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/v1/query", server.url))
        .bearer_auth(token)
        .json(&json!({"sql": "SELECT message_id FROM events"}))
        .send()
        .await
        .expect("query answered")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["truncated"], false);
    answer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| row["message_id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_exactly_once() {
    let data = tempfile::tempdir().expect("tempdir");
    let write_key = cli_output(
        data.path(),
        &[
            "sources",
            "add",
            "--name",
            "Crash test",
            "--channel",
            "server",
        ],
    );
    let token = cli_output(data.path(), &["tokens", "add", "--role", "analyst"]);
    let mut server = start_server(data.path());

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..8 {
        let url = format!("{}/v1/batch", server.url);
        let write_key = write_key.clone();
        let acknowledged = acknowledged.clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for request in 0.. {
                let ids: Vec<String> = (0..50).map(|event| format!("w{worker}-r{request}-e{event}")).collect();
                let batch: Vec<_> = ids
                    .iter()
                    .map(|id| json!({"type": "track", "event": "Crash Tested", "userId": format!("u{worker}"), "messageId": id}))
                    .collect();
                let body = json!({"batch": batch}).to_string();
                // Every fourth request is sent twice, as a client retrying after a lost answer would.
                let sends = if request % 4 == 0 { 2 } else { 1 };
                for _ in 0..sends {
                    let answer = client.post(&url).basic_auth(&write_key, Some("")).body(body.clone()).send().await;
                    match answer {
                        Ok(response) if response.status().is_success() => {
                            acknowledged.lock().expect("lock").extend(ids.iter().cloned());
                        }
                        _ => return,
                    }
                }
            }
        }));
    }
    // Kill while the load runs: some events are committed to Delta, some only in the WAL.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    for worker in workers {
        worker.await.expect("worker ends");
    }
    let acknowledged: HashSet<String> =
        acknowledged.lock().expect("lock").iter().cloned().collect();
    assert!(
        acknowledged.len() > 1_000,
        "too little load before the kill: {}",
        acknowledged.len()
    );
    eprintln!(
        "{} distinct events acknowledged in {:?} before kill -9",
        acknowledged.len(),
        started.elapsed()
    );

    // The CLI reads the data directory without a server, WAL remainder included.
    let offline_count = cli_output(
        data.path(),
        &[
            "sql",
            "--format",
            "json",
            "SELECT count(*) AS n, count(DISTINCT message_id) AS d FROM events",
        ],
    );
    let offline: serde_json::Value = serde_json::from_str(&offline_count).expect("json row");
    assert_eq!(offline["n"], offline["d"], "duplicates seen offline");
    assert!(offline["n"].as_u64().expect("count") >= acknowledged.len() as u64);

    let server = start_server(data.path());
    let stored = stored_message_ids(&server, &token).await;
    let distinct: HashSet<&String> = stored.iter().collect();
    assert_eq!(distinct.len(), stored.len(), "an event is stored twice");
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !distinct.contains(id))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(offline["n"].as_u64(), Some(stored.len() as u64));
    let mut server = server;
    server.child.kill().expect("stop");
    server.child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_work_with_and_without_a_running_server() {
    let data = tempfile::tempdir().expect("tempdir");
    let offline_key = cli_output(
        data.path(),
        &["sources", "add", "--name", "Offline", "--channel", "web"],
    );
    assert_eq!(offline_key.len(), 40);
    let mut server = start_server(data.path());
    let online_key = cli_output(
        data.path(),
        &["sources", "add", "--name", "Online", "--channel", "app"],
    );
    assert_eq!(online_key.len(), 40);
    let token = cli_output(data.path(), &["tokens", "add", "--role", "analyst"]);
    assert!(token.starts_with("silta_"));
    let listed = cli_output(data.path(), &["sources", "list"]);
    assert!(
        listed.contains("Offline") && listed.contains("Online"),
        "{listed}"
    );
    let client = reqwest::Client::new();
    let status = client
        .post(format!("{}/v1/track", server.url))
        .basic_auth(&online_key, Some(""))
        .json(&json!({"userId": "u1", "event": "Opened", "messageId": "cli-1"}))
        .send()
        .await
        .expect("sent")
        .status();
    assert!(status.is_success());
    let through_server = cli_output(
        data.path(),
        &["sql", "--format", "json", "SELECT channel FROM events"],
    );
    assert_eq!(through_server, r#"{"channel":"app"}"#);
    server.child.kill().expect("stop");
    server.child.wait().expect("reaped");
    let offline = cli_output(
        data.path(),
        &[
            "sql",
            "--format",
            "json",
            "SELECT channel, event FROM events",
        ],
    );
    assert_eq!(offline, r#"{"channel":"app","event":"Opened"}"#);

    // Experiments: saved offline, stopped through a running server, results offline again.
    let definition = data.path().join("experiment.json");
    std::fs::write(
        &definition,
        json!({"key": "onboarding", "variations": ["control", "tour"],
               "metrics": [{"name": "opened", "kind": "conversion", "event": "Opened"}]})
        .to_string(),
    )
    .expect("writes");
    let path = definition.to_str().expect("utf-8 path");
    cli_output(data.path(), &["experiments", "put", path]);
    let mut server = start_server(data.path());
    cli_output(data.path(), &["experiments", "stop", "onboarding"]);
    let listed: serde_json::Value =
        serde_json::from_str(&cli_output(data.path(), &["experiments", "list"])).expect("json");
    assert_eq!(listed["key"], "onboarding");
    assert!(listed["stop"].is_string(), "{listed}");
    server.child.kill().expect("stop");
    server.child.wait().expect("reaped");
    let results: serde_json::Value = serde_json::from_str(&cli_output(
        data.path(),
        &["experiments", "results", "onboarding"],
    ))
    .expect("json");
    assert_eq!(results["units"], json!([0, 0]), "nobody was exposed");
    assert_eq!(results["metrics"][0]["name"], "opened");
}
