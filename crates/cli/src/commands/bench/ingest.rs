//! `silta bench ingest`: drives `/v1/batch` of a separate `silta serve` process over loopback
//! with durable acknowledgements, and prints throughput and acknowledgement latency next to the
//! ceiling measured in the same run: how fast one core merely parses the same payload bytes with
//! serde_json. The batched phase runs again with a 50-event tracking plan checking every event,
//! between two runs without one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;

use super::{Phase, Server, paced, start_server, tracking_plan};

#[derive(Args)]
pub struct IngestArgs {
    /// Events sent in batches of 100 at full speed.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Events sent one per request at full speed.
    #[arg(long, default_value_t = 20_000)]
    pub single_events: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 64)]
    pub connections: u64,
    /// Length of the run paced at half the measured batch rate.
    #[arg(long, default_value_t = 10)]
    pub paced_seconds: u64,
}

/// One realistic track call as analytics-python sends it (about 900 bytes), split around the
/// message id so that request bodies are built by copying.
const EVENT_BEFORE_ID: &str = r#"{"type":"track","event":"Product Viewed","userId":"user-4711","anonymousId":"3f1c2a9e-6b7d-4a53-9a8e-2c1d5b7e9f01","properties":{"product_id":"sku-10423","name":"Merino Wool Sweater","category":"Knitwear","price":89.9,"currency":"EUR","quantity":1,"position":3,"url":"https://shop.example.com/products/merino-wool-sweater"},"context":{"library":{"name":"analytics-python","version":"2.3.3"},"ip":"203.0.113.45","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","page":{"path":"/products/merino-wool-sweater","referrer":"https://www.google.com/","title":"Merino Wool Sweater","url":"https://shop.example.com/products/merino-wool-sweater?utm_source=google&utm_medium=cpc&utm_campaign=winter"},"locale":"fi-FI","timezone":"Europe/Helsinki"},"timestamp":"2026-11-22T10:00:00.000000+00:00","integrations":{},"messageId":"bench-"#;
const EVENT_AFTER_ID: &str = r#""}"#;

fn batch_body(first_event: u64, events: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity((events as usize) * (EVENT_BEFORE_ID.len() + 32) + 64);
    body.extend_from_slice(br#"{"batch":["#);
    for number in first_event..first_event + events {
        if number != first_event {
            body.push(b',');
        }
        body.extend_from_slice(EVENT_BEFORE_ID.as_bytes());
        body.extend_from_slice(format!("{number:012}").as_bytes());
        body.extend_from_slice(EVENT_AFTER_ID.as_bytes());
    }
    body.extend_from_slice(br#"],"sentAt":"2026-11-22T10:00:00.000000+00:00"}"#);
    body
}

struct Load {
    client: reqwest::Client,
    url: String,
    write_key: String,
    next_event: Arc<AtomicU64>,
}

impl Load {
    async fn send(&self, batch_size: u64) -> anyhow::Result<()> {
        let first = self.next_event.fetch_add(batch_size, Ordering::Relaxed);
        let body = batch_body(first, batch_size);
        let response = self
            .client
            .post(&self.url)
            .basic_auth(&self.write_key, Some(""))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "server answered {status}");
        Ok(())
    }
}

/// Sends `requests` requests as fast as `connections` workers can.
async fn full_speed(
    load: &Arc<Load>,
    label: &str,
    requests: u64,
    batch_size: u64,
    connections: u64,
) -> anyhow::Result<Phase> {
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let load = load.clone();
        let issued = issued.clone();
        workers.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new(3)?;
            while issued.fetch_add(1, Ordering::Relaxed) < requests {
                let sent = Instant::now();
                load.send(batch_size).await?;
                latency.record(sent.elapsed().as_micros() as u64)?;
            }
            anyhow::Ok(latency)
        }));
    }
    let mut latency_micros = Histogram::<u64>::new(3)?;
    for worker in workers {
        latency_micros.add(worker.await??)?;
    }
    Ok(Phase {
        label: label.to_string(),
        events: requests * batch_size,
        elapsed: started.elapsed(),
        latency_micros,
    })
}

/// Events per second one core parses out of the same batch bodies with serde_json.
fn serde_json_ceiling(batch_size: u64) -> anyhow::Result<f64> {
    let bodies: Vec<Vec<u8>> = (0..64)
        .map(|index| batch_body(index * batch_size, batch_size))
        .collect();
    let started = Instant::now();
    let mut events = 0u64;
    while started.elapsed() < Duration::from_secs(3) {
        for body in &bodies {
            let parsed: serde_json::Value = serde_json::from_slice(body)?;
            events += parsed["batch"]
                .as_array()
                .map_or(0, |batch| batch.len() as u64);
        }
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

async fn count_events(server: &Server, client: &reqwest::Client) -> anyhow::Result<u64> {
    let response: serde_json::Value = client
        .post(format!("{}/v1/query", server.base_url))
        .bearer_auth(&server.read_token)
        .json(&serde_json::json!({"sql": "SELECT count(*) AS n FROM events"}))
        .send()
        .await?
        .json()
        .await?;
    response["rows"][0]["n"]
        .as_u64()
        .context("count missing from query answer")
}

/// Proposes and approves the 50-event plan and attaches it to the bench source in block
/// mode: every event is checked, and one that broke the plan would not be stored.
async fn attach_plan(server: &Server, client: &reqwest::Client) -> anyhow::Result<()> {
    let admin = |request: reqwest::RequestBuilder| request.bearer_auth(&server.admin_token);
    let steps = [
        (
            format!("{}/v1/plans/bench/versions", server.base_url),
            tracking_plan::plan(),
            reqwest::Method::POST,
        ),
        (
            format!("{}/v1/plans/bench/versions/1/approve", server.base_url),
            serde_json::json!({"comment": "benchmark"}),
            reqwest::Method::POST,
        ),
        (
            format!(
                "{}/v1/sources/{}/contract",
                server.base_url, server.source_id
            ),
            serde_json::json!({"plan": "bench", "mode": "block", "unplanned": "block"}),
            reqwest::Method::PUT,
        ),
    ];
    for (url, body, method) in steps {
        let response = admin(client.request(method, &url))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "{url}: {status} {}",
            response.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

async fn detach_plan(server: &Server, client: &reqwest::Client) -> anyhow::Result<()> {
    let response = client
        .delete(format!(
            "{}/v1/sources/{}/contract",
            server.base_url, server.source_id
        ))
        .bearer_auth(&server.admin_token)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "detach: {}",
        response.status()
    );
    Ok(())
}

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let server = start_server().await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections as usize)
        .build()?;
    let load = Arc::new(Load {
        client: client.clone(),
        url: format!("{}/v1/batch", server.base_url),
        write_key: server.write_key.clone(),
        next_event: Arc::new(AtomicU64::new(0)),
    });
    println!(
        "silta bench ingest: `silta serve` in its own process, loopback HTTP, 200 only after fsync; client and server share this machine's {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<34} {:>10} {:>9} {:>12} {:>9} {:>9}",
        "phase", "events", "seconds", "events/s", "p50 ms", "p99 ms"
    );
    // A short warm-up so the first phase does not pay for connection set-up.
    full_speed(&load, "warm-up", 200, 100, args.connections).await?;
    let batched = full_speed(
        &load,
        "batch 100, full speed",
        args.events / 100,
        100,
        args.connections,
    )
    .await?;
    batched.print();
    attach_plan(&server, &client).await?;
    let with_plan = full_speed(
        &load,
        "batch 100, full speed, plan attached",
        args.events / 100,
        100,
        args.connections,
    )
    .await?;
    with_plan.print();
    detach_plan(&server, &client).await?;
    let batched_again = full_speed(
        &load,
        "batch 100, full speed, again",
        args.events / 100,
        100,
        args.connections,
    )
    .await?;
    batched_again.print();
    let single = full_speed(
        &load,
        "batch 1, full speed",
        args.single_events,
        1,
        args.connections,
    )
    .await?;
    single.print();
    let half_rate = batched.events_per_second() / 2.0;
    let paced_load = load.clone();
    let paced_run = paced(
        &format!("batch 100, paced at {half_rate:.0}/s"),
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
    let ceiling = serde_json_ceiling(100)?;
    println!(
        "peer: serde_json parse of the same payload bytes, one core: {ceiling:.0} events/s; silta batch 100 = {:.2}x of it",
        batched.events_per_second() / ceiling
    );
    let unvalidated = (batched.events_per_second() + batched_again.events_per_second()) / 2.0;
    println!(
        "tracking plan of 50 events (block mode) checked every event: {:.0} events/s = {:.1} % of the mean without a plan ({unvalidated:.0}); goal at least 85 %",
        with_plan.events_per_second(),
        100.0 * with_plan.events_per_second() / unvalidated
    );
    let sent = load.next_event.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = count_events(&server, &client).await?;
    println!("check: {stored} events queryable of {sent} acknowledged");
    server.stop().await?;
    anyhow::ensure!(
        stored == sent,
        "{} acknowledged events are missing",
        sent.saturating_sub(stored)
    );
    Ok(())
}
