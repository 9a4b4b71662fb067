//! `silta bench ingest`: drives `/v1/batch` of a separate `silta serve` process over loopback
//! with durable acknowledgements, and prints throughput and acknowledgement latency next to the
//! ceiling measured in the same run: how fast one core merely parses the same payload bytes with
//! serde_json. Then rounds with and without a 50-event tracking plan checking every event
//! alternate, so that the cost of data contracts is measured in the same run.

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

/// The context both calls share.
macro_rules! event_context {
    () => {
        r#""library":{"name":"analytics-python","version":"2.3.3"},"ip":"203.0.113.45","userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15","page":{"path":"/products/merino-wool-sweater","referrer":"https://www.google.com/","title":"Merino Wool Sweater","url":"https://shop.example.com/products/merino-wool-sweater?utm_source=google&utm_medium=cpc&utm_campaign=winter"},"locale":"fi-FI","timezone":"Europe/Helsinki""#
    };
}

/// One realistic track call as analytics-python sends it (about 900 bytes), split around the
/// message id so that request bodies are built by copying.
const EVENT_BEFORE_ID: &str = concat!(
    r#"{"type":"track","event":"Product Viewed","userId":"user-4711","anonymousId":"3f1c2a9e-6b7d-4a53-9a8e-2c1d5b7e9f01","properties":{"product_id":"sku-10423","name":"Merino Wool Sweater","category":"Knitwear","price":89.9,"currency":"EUR","quantity":1,"position":3,"url":"https://shop.example.com/products/merino-wool-sweater"},"context":{"#,
    event_context!(),
    r#"},"timestamp":"2026-11-22T10:00:00.000000+00:00","integrations":{},"messageId":"bench-"#
);
/// The same call from a site whose consent manager reports the visitor's analytics consent.
pub(super) const CONSENTED_EVENT_BEFORE_ID: &str = concat!(
    r#"{"type":"track","event":"Product Viewed","userId":"user-4711","anonymousId":"3f1c2a9e-6b7d-4a53-9a8e-2c1d5b7e9f01","properties":{"product_id":"sku-10423","name":"Merino Wool Sweater","category":"Knitwear","price":89.9,"currency":"EUR","quantity":1,"position":3,"url":"https://shop.example.com/products/merino-wool-sweater"},"context":{"consent":{"categoryPreferences":{"analytics":true}},"#,
    event_context!(),
    r#"},"timestamp":"2026-11-22T10:00:00.000000+00:00","integrations":{},"messageId":"bench-"#
);
const EVENT_AFTER_ID: &str = r#""}"#;

pub(super) fn batch_body(event_before_id: &str, first_event: u64, events: u64) -> Vec<u8> {
    let mut body = Vec::with_capacity((events as usize) * (event_before_id.len() + 32) + 64);
    body.extend_from_slice(br#"{"batch":["#);
    for number in first_event..first_event + events {
        if number != first_event {
            body.push(b',');
        }
        body.extend_from_slice(event_before_id.as_bytes());
        body.extend_from_slice(format!("{number:012}").as_bytes());
        body.extend_from_slice(EVENT_AFTER_ID.as_bytes());
    }
    body.extend_from_slice(br#"],"sentAt":"2026-11-22T10:00:00.000000+00:00"}"#);
    body
}

pub(super) struct Load {
    pub client: reqwest::Client,
    pub url: String,
    pub write_key: String,
    pub next_event: Arc<AtomicU64>,
    pub event_before_id: &'static str,
}

impl Load {
    pub async fn send(&self, batch_size: u64) -> anyhow::Result<()> {
        let first = self.next_event.fetch_add(batch_size, Ordering::Relaxed);
        let body = batch_body(self.event_before_id, first, batch_size);
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
pub(super) async fn full_speed(
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
        .map(|index| batch_body(EVENT_BEFORE_ID, index * batch_size, batch_size))
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

/// Proposes and approves the 50-event plan once.
async fn adopt_plan(server: &Server, client: &reqwest::Client) -> anyhow::Result<()> {
    for (path, body) in [
        ("/v1/plans/bench/versions", tracking_plan::plan()),
        (
            "/v1/plans/bench/versions/1/approve",
            serde_json::json!({"comment": "benchmark"}),
        ),
    ] {
        let request = client
            .post(format!("{}{path}", server.base_url))
            .json(&body);
        admin_call(server, request).await?;
    }
    Ok(())
}

/// Attaches the plan to the bench source in block mode (every event is checked; one that broke
/// the plan would not be stored), or detaches it.
async fn check_with_plan(
    server: &Server,
    client: &reqwest::Client,
    attached: bool,
) -> anyhow::Result<()> {
    let url = format!(
        "{}/v1/sources/{}/contract",
        server.base_url, server.source_id
    );
    let request = if attached {
        client
            .put(url)
            .json(&serde_json::json!({"plan": "bench", "mode": "block", "unplanned": "block"}))
    } else {
        client.delete(url)
    };
    admin_call(server, request).await
}

async fn admin_call(server: &Server, request: reqwest::RequestBuilder) -> anyhow::Result<()> {
    let response = request.bearer_auth(&server.admin_token).send().await?;
    let status = response.status();
    anyhow::ensure!(
        status.is_success(),
        "{status} {}",
        response.text().await.unwrap_or_default()
    );
    Ok(())
}

/// Throughput with and without the plan, in alternating rounds so that the store growing
/// during the run weighs on both alike.
struct PlanComparison {
    without: Vec<f64>,
    with: Vec<f64>,
}

const PLAN_ROUNDS: usize = 3;

async fn compare_plan(
    server: &Server,
    client: &reqwest::Client,
    load: &Arc<Load>,
    args: &IngestArgs,
) -> anyhow::Result<PlanComparison> {
    adopt_plan(server, client).await?;
    let requests = (args.events / 100 / PLAN_ROUNDS as u64).max(1);
    let mut comparison = PlanComparison {
        without: Vec::new(),
        with: Vec::new(),
    };
    for round in 1..=PLAN_ROUNDS {
        for attached in [false, true] {
            check_with_plan(server, client, attached).await?;
            let label = if attached {
                format!("round {round}: 50-event plan")
            } else {
                format!("round {round}: no plan")
            };
            let phase = full_speed(load, &label, requests, 100, args.connections).await?;
            phase.print();
            let rates = if attached {
                &mut comparison.with
            } else {
                &mut comparison.without
            };
            rates.push(phase.events_per_second());
        }
    }
    check_with_plan(server, client, false).await?;
    Ok(comparison)
}

impl PlanComparison {
    fn print(&self) {
        let mean = |rates: &[f64]| rates.iter().sum::<f64>() / rates.len().max(1) as f64;
        let (without, with) = (mean(&self.without), mean(&self.with));
        println!(
            "tracking plan of 50 events (block mode) checking every event: {with:.0} events/s = {:.1} % of {without:.0} without a plan (means of {PLAN_ROUNDS} alternating rounds); goal at least 85 %",
            100.0 * with / without
        );
    }
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
        event_before_id: EVENT_BEFORE_ID,
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
    let plan_comparison = compare_plan(&server, &client, &load, &args).await?;
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
    plan_comparison.print();
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
