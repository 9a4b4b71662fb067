//! `silta bench analytics`: a funnel, a retention triangle, web analytics, an audience preview
//! and multi-touch attribution over the demo data, each timed beside the same computation in
//! DuckDB over the same events exported to Parquet with the person Silta resolved.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use arrow::datatypes::Schema;
use clap::Args;
use parquet::arrow::ArrowWriter;
use serde_json::{Value, json};
use silta_server::{
    AppState, AttributionRequest, DefinitionRequest, FunnelRequest, RetentionRequest, Silta,
    WebRequest,
};

use super::identity::{DEMO_END, demo_data};

#[derive(Args)]
pub struct AnalyticsArgs {
    /// Demo events to load.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Keep the data in this directory (loaded only if it has no events yet); a temporary
    /// directory otherwise.
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

const DUCKDB_SCRIPT: &str = include_str!("duckdb_analytics.py");
const STEPS: [&str; 4] = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
];

/// The requests, and the same parameters for the DuckDB script.
fn requests() -> anyhow::Result<(
    FunnelRequest,
    RetentionRequest,
    WebRequest,
    DefinitionRequest,
    AttributionRequest,
    Value,
)> {
    let funnel: FunnelRequest = serde_json::from_value(json!({
        "steps": STEPS.iter().map(|name| json!({"event": name})).collect::<Vec<_>>(),
        "window_hours": 168, "breakdown": "channel", "from": "2026-10-01", "to": "2026-10-31",
    }))?;
    let retention: RetentionRequest = serde_json::from_value(json!({
        "cohort_event": {"event": "Product Viewed"}, "return_event": {"event": "Product Viewed"},
        "period": "week", "periods": 12, "from": "2026-08-10", "to": "2026-10-26",
    }))?;
    let web: WebRequest = serde_json::from_value(json!({
        "from": "2026-10-02", "to": "2026-10-31", "compare": true, "top": 20,
        "session_gap_minutes": 30, "explain": false,
    }))?;
    let audience = DefinitionRequest {
        name: None,
        definition: None,
        text: Some(
            r#"event("Order Completed").count(between "2026-08-01" and "2026-10-31") >= 2 and event("Product Viewed").count(between "2026-10-01" and "2026-10-31") >= 3 and not event("Checkout Started").within(between "2026-10-25" and "2026-10-31")"#
                .to_string(),
        ),
        purpose: None,
        explain: false,
    };
    let attribution: AttributionRequest = serde_json::from_value(json!({
        "conversion": {"event": "Order Completed"}, "touch": "utm_source", "lookback_days": 30,
        "from": "2026-10-01", "to": "2026-10-31",
    }))?;
    let parameters = json!({
        "funnel_steps": STEPS, "funnel_window_hours": 168,
        "funnel_from": "2026-10-01T00:00:00Z", "funnel_to": "2026-11-01T00:00:00Z",
        "retention_event": "Product Viewed", "retention_periods": 12,
        "retention_from": "2026-08-10T00:00:00Z", "retention_to": "2026-10-26T00:00:00Z",
        "web_previous_from": "2026-09-02T00:00:00Z", "web_from": "2026-10-02T00:00:00Z",
        "web_to": "2026-11-01T00:00:00Z",
        "audience": ["Order Completed", "2026-08-01T00:00:00Z", "2026-11-01T00:00:00Z",
                     "Product Viewed", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z",
                     "Checkout Started", "2026-10-25T00:00:00Z", "2026-11-01T00:00:00Z"],
        "conversion": "Order Completed", "lookback_days": 30,
        "attribution_from": "2026-10-01T00:00:00Z", "attribution_to": "2026-11-01T00:00:00Z",
    });
    Ok((funnel, retention, web, audience, attribution, parameters))
}

/// Seconds of the first and of the second run, and the answer.
async fn twice<T, F, Fut>(run: F) -> anyhow::Result<([f64; 2], T)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, silta_server::ApiError>>,
{
    let mut seconds = [0.0; 2];
    let mut answer = None;
    for slot in &mut seconds {
        let started = Instant::now();
        let result = run()
            .await
            .map_err(|error| anyhow::anyhow!(error.message))?;
        *slot = started.elapsed().as_secs_f64();
        answer = Some(result);
    }
    Ok((seconds, answer.context("ran")?))
}

pub async fn run(args: AnalyticsArgs) -> anyhow::Result<()> {
    let (config, _temporary) = demo_data(
        "silta-bench-analytics-",
        args.workdir.clone(),
        args.events,
        args.seed,
    )
    .await?;
    let data = config.data.clone();
    let silta = Silta::start(config).await?;
    let state = silta.state.clone();
    let export = data.join("bench-analytics-events.parquet");
    let exported = export_events(&state, &export).await?;
    let (funnel, retention, web, audience, attribution, parameters) = requests()?;

    let (funnel_seconds, funnel_answer) = twice(|| silta_server::funnel(&state, &funnel)).await?;
    let (retention_seconds, retention_answer) =
        twice(|| silta_server::retention(&state, &retention)).await?;
    let (web_seconds, web_answer) = twice(|| silta_server::web(&state, &web)).await?;
    let (audience_seconds, audience_answer) =
        twice(|| silta_server::preview_definition(&state, &audience)).await?;
    let (attribution_seconds, attribution_answer) =
        twice(|| silta_server::attribution(&state, &attribution)).await?;
    silta.shutdown().await?;

    let duckdb = duckdb_analytics(&export, &parameters)?;
    let funnel_people: Vec<u64> = funnel_answer
        .steps
        .iter()
        .map(|step| step.figures.people)
        .collect();
    let cohorts: u64 = retention_answer
        .cohorts
        .iter()
        .map(|cohort| cohort.people)
        .sum();
    let returned: u64 = retention_answer
        .cohorts
        .iter()
        .flat_map(|cohort| cohort.returned.iter().skip(1))
        .sum();
    let summary = &web_answer.current.summary;
    let web_figures = [summary.visitors, summary.sessions, summary.pageviews];
    let last_touch: f64 = attribution_answer
        .models
        .iter()
        .find(|model| model.model == silta_analytics::attribution::Model::LastTouch)
        .map(|model| model.credits.iter().map(|credit| credit.conversions).sum())
        .unwrap_or_default();
    let duckdb_last_touch: f64 = duckdb["attribution"]["last_touch"]
        .as_object()
        .map(|keys| keys.values().filter_map(Value::as_f64).sum())
        .unwrap_or_default();
    println!(
        "silta bench analytics: {exported} events with a person, demo seed {} to {DEMO_END}; each engine in one process on this machine's {} cores; two runs each (the second reuses Silta's cached profile tables, the graph being unchanged); ratio = silta 2nd / duckdb best",
        args.seed,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>7}   figures (silta | duckdb)",
        "analysis", "silta 1st", "silta 2nd", "duckdb", "ratio"
    );
    let line = |name: &str, silta: [f64; 2], peer: &Value, figures: String| {
        let peer = peer["seconds"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{name:<34} {:>9.2} {:>9.2} {peer:>9.2} {:>6.2}x   {figures}",
            silta[0],
            silta[1],
            silta[1] / peer
        );
    };
    line(
        "funnel, 4 steps, breakdown",
        funnel_seconds,
        &duckdb["funnel"],
        format!("{funnel_people:?} | {}", duckdb["funnel"]["overall"]),
    );
    line(
        "retention, 12 weeks",
        retention_seconds,
        &duckdb["retention"],
        format!(
            "{cohorts} people, {returned} returns | {}, {}",
            duckdb["retention"]["people"], duckdb["retention"]["returned"]
        ),
    );
    line(
        "web analytics, 30 days + previous",
        web_seconds,
        &duckdb["web"],
        format!("{web_figures:?} | {}", duckdb["web"]["current"]),
    );
    line(
        "audience preview, 3 behaviours",
        audience_seconds,
        &duckdb["audience"],
        format!("{} | {}", audience_answer.size, duckdb["audience"]["size"]),
    );
    line(
        "attribution, 6 models (duckdb 2)",
        attribution_seconds,
        &duckdb["attribution"],
        format!("{last_touch:.0} last-touch credits | {duckdb_last_touch:.0}"),
    );
    println!("duckdb {}", duckdb["version"].as_str().unwrap_or("?"));
    Ok(())
}

/// Writes every event with its person (`profile_index`) and the columns the analyses read.
async fn export_events(state: &AppState, path: &Path) -> anyhow::Result<u64> {
    let sql = "SELECT profile_index(user_id, anonymous_id) AS person, type, event, timestamp, \
               channel, page_path, utm_source, revenue FROM events";
    let file = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
    let mut writer: Option<ArrowWriter<std::fs::File>> = None;
    let mut file = Some(file);
    let mut rows = 0u64;
    let mut failure = None;
    state
        .store
        .for_each_batch(sql, |batch| {
            rows += batch.num_rows() as u64;
            if writer.is_none() {
                let schema: Arc<Schema> = batch.schema();
                match file
                    .take()
                    .map(|file| ArrowWriter::try_new(file, schema, None))
                {
                    Some(Ok(created)) => writer = Some(created),
                    Some(Err(error)) => {
                        failure.get_or_insert(anyhow::Error::from(error));
                    }
                    None => {}
                }
            }
            if let Some(writer) = writer.as_mut()
                && let Err(error) = writer.write(&batch)
            {
                failure.get_or_insert(error.into());
            }
            Ok(())
        })
        .await?;
    if let Some(error) = failure {
        return Err(error);
    }
    if let Some(writer) = writer {
        writer.close()?;
    }
    Ok(rows)
}

fn duckdb_analytics(events: &Path, parameters: &Value) -> anyhow::Result<Value> {
    let answer = super::run_duckdb(
        DUCKDB_SCRIPT,
        &[events.as_os_str(), parameters.to_string().as_ref()],
    )?;
    Ok(serde_json::from_str(&answer)?)
}
