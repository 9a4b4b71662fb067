//! `GET /v1/bots?days=30`: the share of bot traffic per source among stored events (a source
//! that drops bots reports them in each ingestion response as `withheld` instead).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{cast, col, lit};
use serde::{Deserialize, Serialize};
use silta_state::Permission;

use crate::analytics::expressions::received_since;
use crate::{ApiError, AppState, auth, query};

const MAX_DAYS: u32 = 3_650;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Events received in the last this many days.
    #[serde(default = "default_days")]
    days: u32,
}

fn default_days() -> u32 {
    30
}

#[derive(Debug, Serialize)]
pub struct BotShare {
    pub source: String,
    pub events: u64,
    pub bots: u64,
    /// bots / events
    pub share: f64,
}

pub async fn report(
    State(state): State<AppState>,
    period: Result<Query<Period>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Vec<BotShare>>, ApiError> {
    auth::require(&state, &headers, Permission::Sql)?;
    let Query(period) = period?;
    if period.days == 0 || period.days > MAX_DAYS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("days must be 1..={MAX_DAYS}"),
        ));
    }
    query::read_your_writes(&state).await;
    let since = chrono::Utc::now() - chrono::Duration::days(i64::from(period.days));
    let (batches, _) = state
        .store
        .query_frame(&state.query_limits, |context| async move {
            context
                .table("events")
                .await?
                .filter(received_since(since))?
                .aggregate(
                    vec![col("source")],
                    vec![
                        count(lit(1)).alias("events"),
                        sum(cast(col("is_bot"), arrow::datatypes::DataType::Int64)).alias("bots"),
                    ],
                )?
                .sort(vec![col("source").sort(true, false)])
        })
        .await?;
    let rows = silta_store::batches_to_json_rows(&batches)?;
    let shares = rows
        .iter()
        .map(|row| {
            let events = row["events"].as_u64().unwrap_or_default();
            let bots = row["bots"].as_u64().unwrap_or_default();
            BotShare {
                source: row["source"].as_str().unwrap_or_default().to_string(),
                events,
                bots,
                share: if events == 0 {
                    0.0
                } else {
                    bots as f64 / events as f64
                },
            }
        })
        .collect();
    Ok(Json(shares))
}
