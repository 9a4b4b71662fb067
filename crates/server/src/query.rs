//! `POST /v1/query`: read-only SQL over the event store.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use silta_state::Permission;
use silta_store::{JsonAnswer, QueryLimits, StoreError};

use crate::{ApiError, AppState, auth};

/// Longest SQL text accepted.
const MAX_SQL_BYTES: usize = 64 * 1024;

/// How long a query waits for acknowledged events to reach the buffer (normally microseconds).
const APPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    sql: String,
    #[serde(default)]
    max_rows: Option<usize>,
}

#[derive(Serialize)]
pub struct QueryResponse {
    #[serde(flatten)]
    answer: JsonAnswer,
    elapsed_ms: u128,
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::QueryTimeout(_) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "query_timeout",
                error.to_string(),
            ),
            StoreError::Query(ref inner) => {
                let message = inner.to_string();
                let code = if message.contains("not supported") || message.contains("Unsupported") {
                    "read_only"
                } else {
                    "invalid_query"
                };
                ApiError::new(StatusCode::BAD_REQUEST, code, message)
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

/// Waits until whatever was acknowledged before now is visible to queries and profiles.
pub async fn read_your_writes(state: &AppState) {
    let acknowledged = state.ingestor.wal.durable_lsn();
    state
        .store
        .wait_until_applied(acknowledged, APPLY_WAIT)
        .await;
}

pub async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<QueryRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<QueryResponse>, ApiError> {
    auth::require(&state, &headers, Permission::Sql)?;
    let Json(request) = request?;
    if request.sql.len() > MAX_SQL_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "sql_too_long",
            format!("sql exceeds {MAX_SQL_BYTES} bytes"),
        ));
    }
    let limits = QueryLimits {
        max_rows: request
            .max_rows
            .unwrap_or(state.query_limits.max_rows)
            .min(state.query_limits.max_rows),
        ..state.query_limits.clone()
    };
    let started = Instant::now();
    read_your_writes(&state).await;
    let answer = state.store.query_json(&request.sql, &limits).await?;
    Ok(Json(QueryResponse {
        answer,
        elapsed_ms: started.elapsed().as_millis(),
    }))
}
