//! `silta bench`: benchmarks that print Silta's figure beside a named peer measured in the same
//! run on the same machine.

mod analytics;
mod destinations;
mod identity;
mod ingest;
mod mmm;
mod profiles;
mod tracking_plan;

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use hdrhistogram::Histogram;
use silta_model::Channel;
use silta_server::Config;
use silta_state::{Actor, Role, StateStore};
use tokio::io::AsyncBufReadExt;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingestion throughput and acknowledgement latency over loopback HTTP.
    Ingest(ingest::IngestArgs),
    /// Identity resolution over the demo data, beside connected components in DuckDB.
    Identity(identity::IdentityArgs),
    /// Profile lookup latency over loopback HTTP at a fixed request rate.
    Profiles(profiles::ProfilesArgs),
    /// Funnel, retention, web analytics, audience and attribution over the demo data, beside
    /// DuckDB.
    Analytics(analytics::AnalyticsArgs),
    /// A media-mix fit and its ROI error beside PyMC-Marketing, and the budget optimiser.
    Mmm(mmm::MmmArgs),
    /// Forwarding to a webhook and NATS while ingesting, and ingestion with a destination down.
    Destinations(destinations::DestinationsArgs),
}

pub async fn run(_config: Config, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ingest(args) => ingest::run(args).await,
        BenchCommand::Identity(args) => identity::run(args).await,
        BenchCommand::Profiles(args) => profiles::run(args).await,
        BenchCommand::Analytics(args) => analytics::run(args).await,
        BenchCommand::Mmm(args) => mmm::run(args).await,
        BenchCommand::Destinations(args) => destinations::run(args).await,
    }
}

/// Runs a DuckDB peer script with `python3` and returns the last line it printed (its JSON
/// answer).
fn run_duckdb(script: &str, arguments: &[&std::ffi::OsStr]) -> anyhow::Result<String> {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(arguments)
        .output()
        .context("running python3 (DuckDB is the peer: pip install duckdb)")?;
    anyhow::ensure!(
        output.status.success(),
        "the DuckDB peer failed (pip install duckdb): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer = stdout
        .lines()
        .last()
        .context("the DuckDB peer printed nothing")?;
    Ok(answer.to_string())
}

/// `silta serve` in its own process on a fresh data directory, with one source and its write
/// key, a read token and an admin token.
struct Server {
    child: tokio::process::Child,
    base_url: String,
    source_id: String,
    write_key: String,
    read_token: String,
    admin_token: String,
    _data: tempfile::TempDir,
}

async fn start_server() -> anyhow::Result<Server> {
    let data = tempfile::Builder::new().prefix("silta-bench-").tempdir()?;
    let (source_id, write_key, read_token, admin_token) = {
        let state = StateStore::open(&data.path().join("state.redb"))?;
        let source = state.add_source("bench", Channel::Server, &Actor::local())?;
        let token = state.add_token(Role::Marketer, "bench", &Actor::local())?;
        let admin = state.add_token(Role::Admin, "bench-admin", &Actor::local())?;
        (source.owner.id, source.secret, token.secret, admin.secret)
    };
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("SILTA_RATE_LIMIT_EVENTS_PER_SECOND", "0")
        .env("SILTA_RATE_LIMIT_EVENTS_PER_SECOND_PER_IP", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let base_url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("server did not start within 60 s")??
            .context("server exited before listening")?;
        if let Some(url) = line.strip_prefix("listening on ") {
            break url.to_string();
        }
    };
    Ok(Server {
        child,
        base_url,
        source_id,
        write_key,
        read_token,
        admin_token,
        _data: data,
    })
}

impl Server {
    async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}

/// One measured phase: how many events (or requests) in how long, and the latency of each
/// request.
struct Phase {
    label: String,
    events: u64,
    elapsed: Duration,
    latency_micros: Histogram<u64>,
}

impl Phase {
    fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self) {
        println!(
            "{:<34} {:>10} {:>9.2} {:>12.0} {:>9.2} {:>9.2}",
            self.label,
            self.events,
            self.elapsed.as_secs_f64(),
            self.events_per_second(),
            self.latency_micros.value_at_quantile(0.5) as f64 / 1000.0,
            self.latency_micros.value_at_quantile(0.99) as f64 / 1000.0,
        );
    }
}

/// Sends `requests_per_second` requests for `seconds` on a fixed schedule; latency counts from
/// the scheduled time, so a stalled server cannot hide its queueing (no coordinated omission).
async fn paced<F, R>(
    label: &str,
    requests_per_second: f64,
    seconds: u64,
    events_per_request: u64,
    request: F,
) -> anyhow::Result<Phase>
where
    F: Fn() -> R,
    R: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let requests = (requests_per_second * seconds as f64).max(1.0) as u64;
    let interval = Duration::from_secs_f64(seconds as f64 / requests as f64);
    let started = Instant::now();
    let mut in_flight = Vec::with_capacity(requests as usize);
    for number in 0..requests {
        let scheduled = started + interval * number as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let sent = request();
        in_flight.push(tokio::spawn(async move {
            sent.await?;
            anyhow::Ok(scheduled.elapsed().as_micros() as u64)
        }));
    }
    let mut latency_micros = Histogram::<u64>::new(3)?;
    for request in in_flight {
        latency_micros.record(request.await??)?;
    }
    Ok(Phase {
        label: label.to_string(),
        events: requests * events_per_request,
        elapsed: started.elapsed(),
        latency_micros,
    })
}
