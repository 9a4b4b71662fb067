//! Violation counts per source, event, field and kind, so that IT can tell a team precisely
//! what its sender gets wrong. The rows are in the SQL table `violations`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::prelude::{Expr, cast, col, lit, when};
use serde::{Deserialize, Serialize};
use silta_state::Permission;

use crate::analytics::expressions::timestamp;
use crate::contracts::plans::parse_since;
use crate::output::{Format, Tabular, respond};
use crate::{ApiError, AppState, auth, query};

/// Most groups one answer lists.
const MAX_GROUPS: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationsQuery {
    pub source: Option<String>,
    pub plan: Option<String>,
    /// `30d`, `12h`, or an RFC 3339 time; 30 days by default.
    pub since: Option<String>,
    #[serde(default)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
pub struct ViolationCount {
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event: Option<String>,
    pub field: String,
    pub kind: String,
    pub count: u64,
    /// How many of them the plan blocked.
    pub blocked: u64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct ViolationCounts(pub Vec<ViolationCount>);

impl Tabular for ViolationCounts {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "source",
            "type",
            "event",
            "field",
            "kind",
            "count",
            "blocked",
            "first_seen",
            "last_seen",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|row| {
                vec![
                    row.source.clone(),
                    row.event_type.clone(),
                    row.event.clone().unwrap_or_default(),
                    row.field.clone(),
                    row.kind.clone(),
                    row.count.to_string(),
                    row.blocked.to_string(),
                    row.first_seen.clone(),
                    row.last_seen.clone(),
                ]
            })
            .collect()
    }
}

pub async fn count_violations(
    state: &AppState,
    request: &ViolationsQuery,
) -> Result<ViolationCounts, ApiError> {
    let since = parse_since(request.since.as_deref().unwrap_or("30d"))?;
    let mut predicate: Expr = col("received_at").gt_eq(timestamp(since.timestamp_micros()));
    if let Some(source) = &request.source {
        predicate = predicate.and(col("source").eq(lit(source.clone())));
    }
    if let Some(plan) = &request.plan {
        predicate = predicate.and(col("plan").eq(lit(plan.clone())));
    }
    query::read_your_writes(state).await;
    let limits = silta_store::QueryLimits {
        max_rows: MAX_GROUPS,
        ..state.query_limits.clone()
    };
    let (batches, _) = state
        .store
        .query_frame(&limits, |context| async move {
            let blocked = when(col("mode").eq(lit("block")), lit(1_i64)).otherwise(lit(0_i64))?;
            context
                .table("violations")
                .await?
                .filter(predicate)?
                .aggregate(
                    vec![
                        col("source"),
                        col("type"),
                        col("event"),
                        col("field"),
                        col("kind"),
                    ],
                    vec![
                        count(lit(1)).alias("count"),
                        sum(blocked).alias("blocked"),
                        cast(min(col("received_at")), arrow::datatypes::DataType::Utf8)
                            .alias("first_seen"),
                        cast(max(col("received_at")), arrow::datatypes::DataType::Utf8)
                            .alias("last_seen"),
                    ],
                )?
                .sort(vec![
                    col("count").sort(false, false),
                    col("source").sort(true, false),
                    col("event").sort(true, false),
                    col("field").sort(true, false),
                    col("kind").sort(true, false),
                ])
        })
        .await?;
    let rows = silta_store::batches_to_json_rows(&batches)?;
    let text =
        |row: &serde_json::Value, name: &str| row[name].as_str().unwrap_or_default().to_string();
    Ok(ViolationCounts(
        rows.iter()
            .map(|row| ViolationCount {
                source: text(row, "source"),
                event_type: text(row, "type"),
                event: row["event"].as_str().map(str::to_string),
                field: text(row, "field"),
                kind: text(row, "kind"),
                count: row["count"].as_u64().unwrap_or_default(),
                blocked: row["blocked"].as_u64().unwrap_or_default(),
                first_seen: text(row, "first_seen"),
                last_seen: text(row, "last_seen"),
            })
            .collect(),
    ))
}

/// `GET /v1/violations?source=&plan=&since=30d&format=csv`
pub async fn list(
    State(state): State<AppState>,
    request: Result<Query<ViolationsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::require(&state, &headers, Permission::ReadContracts)?;
    let Query(request) = request?;
    let format = request.format;
    respond(count_violations(&state, &request).await?, format)
}
