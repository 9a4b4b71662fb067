//! `silta bench identity`: loads the demo data set through the ingestion path, rebuilds the
//! identity graph from the `events` table as `silta identity rebuild` does, and computes
//! connected components over the same identifier edges in DuckDB (iterative SQL) in the same run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use arrow::array::{RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use clap::Args;
use parquet::arrow::ArrowWriter;
use silta_identity::{IdentityConfig, identifier_keys};
use silta_server::{Config, DemoRequest, Silta, load_demo, open_offline};
use silta_store::{EventStore, events_from_batch};

#[derive(Args)]
pub struct IdentityArgs {
    /// Demo events to load and resolve.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the data in this directory (loaded only if it has no events yet), so that repeated
    /// runs skip loading the demo; a temporary directory otherwise.
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

/// The demo's last day, fixed so that every run resolves the same data.
pub(super) const DEMO_END: NaiveDate = NaiveDate::from_ymd_opt(2026, 10, 31).expect("a valid date");

const DUCKDB_SCRIPT: &str = include_str!("duckdb_components.py");

#[derive(serde::Deserialize)]
struct DuckDbAnswer {
    version: String,
    identifiers: u64,
    components: u64,
    iterations: u64,
    seconds: f64,
}

pub async fn run(args: IdentityArgs) -> anyhow::Result<()> {
    let (config, _temporary) = demo_data(
        "silta-bench-identity-",
        args.workdir.clone(),
        args.events,
        args.seed,
    )
    .await?;
    let data = config.data.clone();
    let (store, identity, report) = open_offline(&config).await?;
    let refusals = identity.read().refusals().len();
    let edges_path = data.join("bench-identity-edges.parquet");
    let config = identity.read().config().clone();
    let edges = write_edges(&store, &config, &edges_path).await?;
    let duckdb = duckdb_components(&edges_path)?;
    let silta_rate = report.identifiers as f64 / report.resolve_seconds;
    let duckdb_rate = duckdb.identifiers as f64 / duckdb.seconds;
    println!(
        "silta bench identity: {} events, {} identifier edges; both engines single process on this machine's {} cores",
        report.events,
        edges,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<30} {:>12} {:>12} {:>10} {:>15}",
        "engine", "identifiers", "profiles", "seconds", "identifiers/s"
    );
    println!(
        "{:<30} {:>12} {:>12} {:>10.2} {:>15.0}",
        "silta identity rebuild",
        report.identifiers,
        report.profiles,
        report.resolve_seconds,
        silta_rate
    );
    println!(
        "{:<30} {:>12} {:>12} {:>10.2} {:>15.0}",
        format!("duckdb {} ({} rounds)", duckdb.version, duckdb.iterations),
        duckdb.identifiers,
        duckdb.components,
        duckdb.seconds,
        duckdb_rate
    );
    println!(
        "silta = {:.1}x duckdb; silta also applied traits and computed traits, made {} merges and recorded {} refusals (unusable identifiers, edges over limits; duckdb applies no limits); reading the events table took another {:.2} s",
        silta_rate / duckdb_rate,
        report.merges,
        refusals,
        report.total_seconds - report.resolve_seconds
    );
    anyhow::ensure!(
        duckdb.identifiers == report.identifiers as u64,
        "the engines saw different identifiers: silta {}, duckdb {}",
        report.identifiers,
        duckdb.identifiers
    );
    Ok(())
}

/// The configuration of a data directory holding the demo data set: `workdir` (loaded only
/// if it has no events yet, so that repeated runs skip loading) or a temporary directory,
/// removed when the returned guard is dropped.
pub(super) async fn demo_data(
    prefix: &str,
    workdir: Option<PathBuf>,
    events: u64,
    seed: u64,
) -> anyhow::Result<(Config, tempfile::TempDir)> {
    let temporary = tempfile::Builder::new().prefix(prefix).tempdir()?;
    let config = Config {
        data: workdir.unwrap_or_else(|| temporary.path().to_path_buf()),
        rate_limit_events_per_second: 0,
        audience_refresh_minutes: 0,
        ..Config::default()
    };
    if !config.data.join("tables/events/_delta_log").is_dir() {
        load(&config, events, seed).await?;
    }
    Ok((config, temporary))
}

/// Loads `events` demo events ending on [`DEMO_END`] through the ingestion path.
async fn load(config: &Config, events: u64, seed: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let silta = Silta::start(config.clone()).await?;
    let request = DemoRequest {
        events,
        seed,
        end_date: Some(DEMO_END),
    };
    let report = load_demo(&silta.state, &request, &silta_state::Actor::System)
        .await
        .map_err(|error| anyhow::anyhow!(error.message))?;
    silta.shutdown().await?;
    eprintln!(
        "loaded {} demo events in {:.1} s",
        report.accepted,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes every event's identifier links (strongest identifier to each other one; a lone
/// identifier to itself) as Parquet; returns how many.
async fn write_edges(
    store: &EventStore,
    config: &IdentityConfig,
    path: &Path,
) -> anyhow::Result<u64> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("a", DataType::Utf8, false),
        Field::new("b", DataType::Utf8, false),
    ]));
    let file = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), None)?;
    let mut edges = 0u64;
    let mut failure = None;
    store
        .for_each_batch("SELECT * FROM events", |batch| {
            let (mut from, mut to) = (StringBuilder::new(), StringBuilder::new());
            for event in events_from_batch(&batch)? {
                let keys = identifier_keys(&event, config);
                let Some(strongest) = keys.first() else {
                    continue;
                };
                for other in keys.iter().skip(usize::from(keys.len() > 1)) {
                    from.append_value(strongest);
                    to.append_value(other);
                    edges += 1;
                }
            }
            let columns = vec![Arc::new(from.finish()) as _, Arc::new(to.finish()) as _];
            if let Err(error) = RecordBatch::try_new(schema.clone(), columns)
                .map_err(anyhow::Error::from)
                .and_then(|batch| Ok(writer.write(&batch)?))
            {
                failure.get_or_insert(error);
            }
            Ok(())
        })
        .await?;
    if let Some(error) = failure {
        return Err(error);
    }
    writer.close()?;
    Ok(edges)
}

fn duckdb_components(edges: &Path) -> anyhow::Result<DuckDbAnswer> {
    let answer = super::run_duckdb(DUCKDB_SCRIPT, &[edges.as_os_str()])?;
    Ok(serde_json::from_str(&answer)?)
}
