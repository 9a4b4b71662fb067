//! `GET /v1/overview?minutes=60`: the console's first page. Events per minute by source and
//! channel, the bot share, quarantined events and tracking-plan violations over the last
//! minutes, and how much disk the data directory takes.

use std::path::Path;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use datafusion::functions::expr_fn::date_trunc;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{cast, col, lit};
use serde::{Deserialize, Serialize};
use silta_state::Permission;

use super::source_names;
use crate::analytics::expressions::received_since;
use crate::{ApiError, AppState, auth, query};

/// A day at most: the figures are per minute.
const MAX_MINUTES: u32 = 1_440;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    #[serde(default = "default_minutes")]
    minutes: u32,
}

fn default_minutes() -> u32 {
    60
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub minutes: u32,
    pub since: DateTime<Utc>,
    pub events: u64,
    pub bots: u64,
    /// bots / events, 0 without events.
    pub bot_share: f64,
    pub quarantined: u64,
    pub violations: u64,
    /// Bytes under the data directory: tables, write-ahead log, state.
    pub storage_bytes: u64,
    /// One row per minute, source and channel that had events, oldest first.
    pub per_minute: Vec<MinuteCount>,
}

#[derive(Debug, Serialize)]
pub struct MinuteCount {
    pub minute: String,
    pub source_id: String,
    /// The source's name, or its id if it was deleted.
    pub source: String,
    pub channel: String,
    pub events: u64,
    pub bots: u64,
}

pub async fn show(
    State(state): State<AppState>,
    period: Result<Query<Period>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Overview>, ApiError> {
    auth::require(&state, &headers, Permission::Analytics)?;
    let Query(period) = period?;
    if period.minutes == 0 || period.minutes > MAX_MINUTES {
        return Err(ApiError::bad_request(format!(
            "minutes must be 1..={MAX_MINUTES}"
        )));
    }
    query::read_your_writes(&state).await;
    let since = Utc::now() - chrono::Duration::minutes(i64::from(period.minutes));
    let data_dir = state.data_dir.clone();
    let storage = async {
        tokio::task::spawn_blocking(move || directory_bytes(&data_dir))
            .await
            .map_err(ApiError::internal)
    };
    let (per_minute, quarantined, violations, storage_bytes) = tokio::try_join!(
        events_per_minute(&state, since),
        rows_since(&state, "quarantine", since),
        rows_since(&state, "violations", since),
        storage,
    )?;
    let events = per_minute.iter().map(|row| row.events).sum::<u64>();
    let bots = per_minute.iter().map(|row| row.bots).sum::<u64>();
    Ok(Json(Overview {
        minutes: period.minutes,
        since,
        events,
        bots,
        bot_share: if events == 0 {
            0.0
        } else {
            bots as f64 / events as f64
        },
        quarantined,
        violations,
        storage_bytes,
        per_minute,
    }))
}

async fn events_per_minute(
    state: &AppState,
    since: DateTime<Utc>,
) -> Result<Vec<MinuteCount>, ApiError> {
    let (batches, _) = state
        .store
        .query_frame(&state.query_limits, |context| async move {
            context
                .table("events")
                .await?
                .filter(received_since(since))?
                .aggregate(
                    vec![
                        date_trunc(lit("minute"), col("received_at")).alias("minute"),
                        col("source").alias("source_id"),
                        col("channel"),
                    ],
                    vec![
                        count(lit(1)).alias("events"),
                        sum(cast(col("is_bot"), arrow::datatypes::DataType::Int64)).alias("bots"),
                    ],
                )?
                // Minutes become text after grouping: once per row of the answer, not per event.
                .select(vec![
                    cast(col("minute"), arrow::datatypes::DataType::Utf8).alias("minute"),
                    col("source_id"),
                    col("channel"),
                    col("events"),
                    col("bots"),
                ])?
                .sort(vec![
                    col("minute").sort(true, false),
                    col("source_id").sort(true, false),
                    col("channel").sort(true, false),
                ])
        })
        .await?;
    let names = source_names(state)?;
    let rows = silta_store::batches_to_json_rows(&batches)?;
    Ok(rows
        .iter()
        .map(|row| {
            let text = |name: &str| row[name].as_str().unwrap_or_default().to_string();
            let source_id = text("source_id");
            MinuteCount {
                minute: text("minute"),
                source: names.get(&source_id).cloned().unwrap_or(source_id.clone()),
                source_id,
                channel: text("channel"),
                events: row["events"].as_u64().unwrap_or_default(),
                bots: row["bots"].as_u64().unwrap_or_default(),
            }
        })
        .collect())
}

async fn rows_since(
    state: &AppState,
    table: &'static str,
    since: DateTime<Utc>,
) -> Result<u64, ApiError> {
    let (batches, _) = state
        .store
        .query_frame(&state.query_limits, |context| async move {
            context
                .table(table)
                .await?
                .filter(received_since(since))?
                .aggregate(vec![], vec![count(lit(1)).alias("rows")])
        })
        .await?;
    let rows = silta_store::batches_to_json_rows(&batches)?;
    Ok(rows
        .first()
        .and_then(|row| row["rows"].as_u64())
        .unwrap_or_default())
}

/// Total size of the files under `directory`. Files that vanish while it counts (a committer
/// replacing them) are skipped.
fn directory_bytes(directory: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => directory_bytes(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map(|meta| meta.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}
