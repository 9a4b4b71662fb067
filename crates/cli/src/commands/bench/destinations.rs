//! `silta bench destinations`: a separate `silta serve` process forwards what it ingests to a
//! webhook receiver and to Debian's `nats-server` on loopback, with durable queues, while
//! ingestion runs at half its measured full-speed rate; the peers are the same receivers fed
//! directly by one client. Then ingestion at full speed with a destination that is down against
//! without it, in alternating rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};

use super::ingest::{CONSENTED_EVENT_BEFORE_ID, Load, batch_body, full_speed};
use super::{Server, paced, start_server};

#[derive(Args)]
pub struct DestinationsArgs {
    /// Events in the full-speed run that sets the paced rate.
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Length of the run paced at half the full-speed rate.
    #[arg(long, default_value_t = 10)]
    pub paced_seconds: u64,
    /// Events per round of the down-destination comparison.
    #[arg(long, default_value_t = 100_000)]
    pub round_events: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 32)]
    pub connections: u64,
}

/// A webhook receiver that counts the events it is sent.
async fn start_receiver() -> anyhow::Result<(Arc<AtomicU64>, String)> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                let events = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|parsed| parsed["batch"].as_array().map(Vec::len))
                    .unwrap_or(1);
                counter.fetch_add(events as u64, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((received, url))
}

struct NatsServer {
    child: tokio::process::Child,
    url: String,
}

async fn start_nats() -> anyhow::Result<NatsServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = tokio::process::Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("running nats-server (apt-get install nats-server)")?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "nats-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(NatsServer {
        child,
        url: format!("nats://127.0.0.1:{port}"),
    })
}

/// Counts the messages on `subject`.
async fn count_messages(url: &str, subject: &str) -> anyhow::Result<Arc<AtomicU64>> {
    let client = async_nats::connect(url).await?;
    let mut messages = client.subscribe(subject.to_string()).await?;
    client.flush().await?;
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    tokio::spawn(async move {
        let _client = client;
        while messages.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    Ok(received)
}

async fn admin(
    server: &Server,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = client
        .request(method, format!("{}{path}", server.base_url))
        .bearer_auth(&server.admin_token)
        .json(&body)
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{status} {answer}");
    Ok(answer)
}

/// Waits until `counter` reaches `target`; the time it did, or an error after `limit`.
async fn drained(counter: &AtomicU64, target: u64, limit: Duration) -> anyhow::Result<Instant> {
    let started = Instant::now();
    while counter.load(Ordering::Relaxed) < target {
        anyhow::ensure!(
            started.elapsed() < limit,
            "{} of {target} delivered after {limit:?}",
            counter.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Instant::now())
}

/// Peer: one client posting batches of 100 straight to the receiver for three seconds.
async fn direct_webhook_rate(client: &reqwest::Client, url: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        let body = batch_body(CONSENTED_EVENT_BEFORE_ID, sent, 100);
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        sent += 100;
    }
    Ok(sent as f64 / started.elapsed().as_secs_f64())
}

/// Peer: one client publishing single events to NATS with flushes every 100, for three seconds.
async fn direct_nats_rate(url: &str) -> anyhow::Result<f64> {
    let client = async_nats::connect(url).await?;
    let payload = bytes_of_one_event();
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        for _ in 0..100 {
            client
                .publish("bench.direct", payload.clone().into())
                .await?;
        }
        client.flush().await?;
        sent += 100;
    }
    Ok(sent as f64 / started.elapsed().as_secs_f64())
}

fn bytes_of_one_event() -> Vec<u8> {
    let body = batch_body(CONSENTED_EVENT_BEFORE_ID, 0, 1);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    serde_json::to_vec(&parsed["batch"][0]).unwrap_or_default()
}

const ROUNDS: usize = 3;

pub async fn run(args: DestinationsArgs) -> anyhow::Result<()> {
    let server = start_server().await?;
    let nats = start_nats().await?;
    let (webhook_received, webhook_url) = start_receiver().await?;
    let nats_received = count_messages(&nats.url, "silta.events").await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections as usize)
        .build()?;
    let load = Arc::new(Load {
        client: client.clone(),
        url: format!("{}/v1/batch", server.base_url),
        write_key: server.write_key.clone(),
        next_event: Arc::new(AtomicU64::new(0)),
        event_before_id: CONSENTED_EVENT_BEFORE_ID,
    });
    println!(
        "silta bench destinations: `silta serve` in its own process; a webhook receiver and nats-server on loopback; {} cores shared by all",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<34} {:>10} {:>9} {:>12} {:>9} {:>9}",
        "phase", "events", "seconds", "events/s", "p50 ms", "p99 ms"
    );
    full_speed(&load, "warm-up", 100, 100, args.connections).await?;
    // One client sends far more than a browser could: the bot rules flag its events, so the
    // destinations take bots too.
    let full = full_speed(
        &load,
        "ingest, no destinations",
        args.events / 100,
        100,
        args.connections,
    )
    .await?;
    full.print();

    admin(
        &server,
        &client,
        reqwest::Method::POST,
        "/v1/destinations",
        json!({"name": "bench webhook", "purpose": "analytics",
               "target": {"type": "webhook", "url": webhook_url},
               "filter": {"include_bots": true},
               "delivery": {"batch_size": 100}}),
    )
    .await?;
    admin(
        &server,
        &client,
        reqwest::Method::POST,
        "/v1/destinations",
        json!({"name": "bench nats", "purpose": "analytics",
               "target": {"type": "nats", "url": nats.url, "subject": "silta.events"},
               "filter": {"include_bots": true}, "delivery": {"batch_size": 100}}),
    )
    .await?;
    let forwarded_from = load.next_event.load(Ordering::Relaxed);
    let half_rate = full.events_per_second() / 2.0;
    let paced_load = load.clone();
    let started = Instant::now();
    let paced_run = paced(
        &format!("ingest paced at {half_rate:.0}/s"),
        half_rate / 100.0,
        args.paced_seconds,
        100,
        move || {
            let load = paced_load.clone();
            async move { load.send(100).await }
        },
    )
    .await?;
    paced_run.print();
    let forwarded = load.next_event.load(Ordering::Relaxed) - forwarded_from;
    println!(
        "delivered when paced ingestion ended: webhook {}, NATS {} of {forwarded}",
        webhook_received.load(Ordering::Relaxed),
        nats_received.load(Ordering::Relaxed)
    );
    let limit = Duration::from_secs(300);
    // Watched together: each destination's own time, not the later of the two.
    let (webhook_done, nats_done) = tokio::try_join!(
        drained(&webhook_received, forwarded, limit),
        drained(&nats_received, forwarded, limit)
    )?;
    let webhook_rate = forwarded as f64 / (webhook_done - started).as_secs_f64();
    let nats_rate = forwarded as f64 / (nats_done - started).as_secs_f64();
    let direct_webhook = direct_webhook_rate(&client, &webhook_url).await?;
    let direct_nats = direct_nats_rate(&nats.url).await?;
    let shown: Vec<Value> = serde_json::from_value(
        admin(
            &server,
            &client,
            reqwest::Method::GET,
            "/v1/destinations",
            Value::Null,
        )
        .await?,
    )?;
    println!(
        "forwarded while ingesting at half rate: webhook {forwarded} events in {:.2} s = {webhook_rate:.0} events/s (batches of 100); peer: one client posting batches of 100 straight to the receiver {direct_webhook:.0} events/s",
        (webhook_done - started).as_secs_f64()
    );
    println!(
        "forwarded while ingesting at half rate: NATS {forwarded} events in {:.2} s = {nats_rate:.0} events/s (one message each, flushed every 100); peer: one client publishing straight to nats-server {direct_nats:.0} events/s",
        (nats_done - started).as_secs_f64()
    );
    for destination in &shown {
        println!(
            "  {}: delivered {}, latency from receipt p50 {} ms, p99 {} ms",
            destination["name"].as_str().unwrap_or_default(),
            destination["stats"]["delivered"],
            destination["stats"]["latency_ms_p50"],
            destination["stats"]["latency_ms_p99"],
        );
    }

    // A destination nobody answers: a port that was just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let down_spec = |enabled: bool| {
        json!({"name": "bench down", "purpose": "analytics", "enabled": enabled,
               "filter": {"include_bots": true},
               "target": {"type": "webhook", "url": format!("http://{closed}/hook")},
               "delivery": {"max_attempts": 100, "initial_backoff_ms": 100, "max_backoff_ms": 1000}})
    };
    let down = admin(
        &server,
        &client,
        reqwest::Method::POST,
        "/v1/destinations",
        down_spec(false),
    )
    .await?;
    let down_path = format!(
        "/v1/destinations/{}",
        down["id"].as_str().context("destination id")?
    );
    let mut without = Vec::new();
    let mut with = Vec::new();
    for round in 1..=ROUNDS {
        for enabled in [false, true] {
            // Each round starts with the live destinations caught up, so that neither pays for
            // delivering the other's events.
            let sent = load.next_event.load(Ordering::Relaxed) - forwarded_from;
            drained(&webhook_received, sent, limit).await?;
            drained(&nats_received, sent, limit).await?;
            admin(
                &server,
                &client,
                reqwest::Method::PUT,
                &down_path,
                down_spec(enabled),
            )
            .await?;
            let label = if enabled {
                format!("round {round}: one destination down")
            } else {
                format!("round {round}: all destinations up")
            };
            let phase = full_speed(
                &load,
                &label,
                args.round_events / 100,
                100,
                args.connections,
            )
            .await?;
            phase.print();
            if enabled {
                with.push(phase.events_per_second());
            } else {
                without.push(phase.events_per_second());
            }
        }
    }
    let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len().max(1) as f64;
    let (without, with) = (mean(&without), mean(&with));
    println!(
        "ingestion with a destination down: {with:.0} events/s = {:.1} % of {without:.0} with every destination up (means of {ROUNDS} alternating rounds); goal at least 90 %",
        100.0 * with / without
    );
    let total = load.next_event.load(Ordering::Relaxed) - forwarded_from;
    drained(&webhook_received, total, limit).await?;
    drained(&nats_received, total, limit).await?;
    println!("check: the live destinations received all {total} events sent after they were added");
    server.stop().await?;
    drop(nats);
    Ok(())
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
