//! `GET /v1/debugger/events`: the newest events as they arrive, per source, for the console's
//! live debugger (what Segment calls the source debugger). Polling with `after_lsn` returns only
//! events newer than the ones already shown.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use chrono::Utc;
use datafusion::prelude::{Expr, col, lit};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use silta_state::Permission;

use super::source_names;
use crate::analytics::expressions::received_since;
use crate::{ApiError, AppState, auth, query};

const MAX_EVENTS: usize = 200;
/// The debugger shows what is arriving now: it looks back one day at most.
const LOOK_BACK_HOURS: i64 = 24;
const MAX_FILTER_CHARS: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// A source id.
    source: Option<String>,
    /// `track`, `page`, `identify`, ...
    #[serde(rename = "type")]
    kind: Option<String>,
    /// A track event's name.
    event: Option<String>,
    /// Only events stored after this write-ahead log position.
    after_lsn: Option<i64>,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    50
}

#[derive(Serialize)]
pub struct DebuggerEvents {
    /// Newest first.
    events: Vec<Value>,
}

/// Columns shown, as (column, name in the Segment message).
const MESSAGE_FIELDS: [(&str, &str); 10] = [
    ("message_id", "messageId"),
    ("type", "type"),
    ("event", "event"),
    ("name", "name"),
    ("user_id", "userId"),
    ("anonymous_id", "anonymousId"),
    ("group_id", "groupId"),
    ("previous_id", "previousId"),
    ("timestamp", "timestamp"),
    ("received_at", "receivedAt"),
];
const JSON_FIELDS: [&str; 4] = ["properties", "traits", "context", "integrations"];

pub async fn latest(
    State(state): State<AppState>,
    filter: Result<Query<Filter>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<DebuggerEvents>, ApiError> {
    auth::require(&state, &headers, Permission::Sql)?;
    let Query(filter) = filter?;
    if filter.limit == 0 || filter.limit > MAX_EVENTS {
        return Err(ApiError::bad_request(format!(
            "limit must be 1..={MAX_EVENTS}"
        )));
    }
    let condition = condition(&filter)?;
    query::read_your_writes(&state).await;
    let limit = filter.limit;
    let (batches, _) = state
        .store
        .query_frame(&state.query_limits, |context| async move {
            let mut columns: Vec<Expr> = MESSAGE_FIELDS
                .iter()
                .map(|(column, _)| col(*column))
                .collect();
            columns.extend(JSON_FIELDS.iter().map(|column| col(*column)));
            columns.extend(
                ["source", "channel", "is_bot", "violations", "lsn"]
                    .iter()
                    .map(|column| col(*column)),
            );
            context
                .table("events")
                .await?
                .filter(condition)?
                .sort(vec![
                    col("lsn").sort(false, false),
                    col("received_at").sort(false, false),
                ])?
                .limit(0, Some(limit))?
                .select(columns)
        })
        .await?;
    let names = source_names(&state)?;
    let rows = silta_store::batches_to_json_rows(&batches)?;
    let events = rows.iter().map(|row| shown(row, &names)).collect();
    Ok(Json(DebuggerEvents { events }))
}

fn condition(filter: &Filter) -> Result<Expr, ApiError> {
    let since = Utc::now() - chrono::Duration::hours(LOOK_BACK_HOURS);
    let mut condition = received_since(since);
    let exact = [
        ("source", &filter.source),
        ("type", &filter.kind),
        ("event", &filter.event),
    ];
    for (column, value) in exact {
        let Some(value) = value.as_deref().filter(|value| !value.is_empty()) else {
            continue;
        };
        if value.chars().count() > MAX_FILTER_CHARS {
            return Err(ApiError::bad_request(format!(
                "{column} is longer than {MAX_FILTER_CHARS} characters"
            )));
        }
        condition = condition.and(col(column).eq(lit(value.to_string())));
    }
    if let Some(after) = filter.after_lsn {
        condition = condition.and(col("lsn").gt(lit(after)));
    }
    Ok(condition)
}

/// The stored row as the Segment message it came from, with where it came from beside it.
fn shown(row: &Value, names: &HashMap<String, String>) -> Value {
    let mut message = Map::new();
    for (column, name) in MESSAGE_FIELDS {
        if !row[column].is_null() {
            message.insert(name.to_string(), row[column].clone());
        }
    }
    for column in JSON_FIELDS {
        if let Some(text) = row[column].as_str() {
            let parsed = serde_json::from_str(text).unwrap_or(Value::String(text.to_string()));
            message.insert(column.to_string(), parsed);
        }
    }
    let source_id = row["source"].as_str().unwrap_or_default();
    let violations = row["violations"]
        .as_str()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    serde_json::json!({
        "lsn": row["lsn"],
        "source_id": source_id,
        "source": names.get(source_id).map_or(source_id, String::as_str),
        "channel": row["channel"],
        "is_bot": row["is_bot"],
        "violations": violations,
        "message": message,
    })
}
