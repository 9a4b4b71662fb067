//! The quarantine over HTTP (admins only: it holds events as sent): list, inspect, and replay
//! events a tracking plan blocked, once the plan or the sender is fixed. A replayed event is
//! processed exactly as if it had just arrived, and never twice.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use chrono::Utc;
use datafusion::prelude::{Expr, col, lit};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use silta_model::{Event, Violation};
use silta_state::{Actor, Permission};
use silta_store::QueryLimits;

use crate::analytics::expressions::timestamp;
use crate::contracts::plans::parse_since;
use crate::{ApiError, AppState, auth, query};

/// Most records one listing or one replay covers.
pub const MAX_RECORDS: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineQuery {
    pub source: Option<String>,
    /// `30d`, `12h`, or an RFC 3339 time.
    pub since: Option<String>,
    /// Only events a tracking plan blocked (those a replay can take).
    #[serde(default)]
    pub replayable: bool,
    pub limit: Option<usize>,
}

/// One quarantined record. `record` is its id (its position in the write-ahead log).
#[derive(Debug, Serialize)]
pub struct QuarantineEntry {
    pub record: Option<u64>,
    pub received_at: String,
    pub source: String,
    pub message_id: Option<String>,
    pub reason: String,
    pub violations: Vec<Violation>,
    pub replayable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_at: Option<chrono::DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

fn entry(row: &Value) -> QuarantineEntry {
    let violations: Vec<Violation> = row["violations"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    QuarantineEntry {
        record: row["lsn"].as_u64(),
        received_at: row["received_at"].as_str().unwrap_or_default().to_string(),
        source: row["source"].as_str().unwrap_or_default().to_string(),
        message_id: row["message_id"].as_str().map(str::to_string),
        reason: row["reason"].as_str().unwrap_or_default().to_string(),
        replayable: !violations.is_empty() && row["lsn"].is_u64(),
        violations,
        replayed_at: None,
        payload: row["payload"].as_str().map(str::to_string),
    }
}

/// Quarantined records matching `predicate`, newest first, with when each was replayed.
async fn read(
    state: &AppState,
    predicate: Expr,
    limit: usize,
    with_payload: bool,
) -> Result<Vec<QuarantineEntry>, ApiError> {
    query::read_your_writes(state).await;
    let limits = QueryLimits {
        max_rows: limit,
        ..state.query_limits.clone()
    };
    let mut columns = vec![
        "lsn",
        "received_at",
        "source",
        "message_id",
        "reason",
        "violations",
    ];
    if with_payload {
        columns.push("payload");
    }
    let (batches, _) = state
        .store
        .query_frame(&limits, |context| async move {
            context
                .table("quarantine")
                .await?
                .filter(predicate)?
                .select_columns(&columns)?
                .sort(vec![col("received_at").sort(false, false)])
        })
        .await?;
    let mut entries: Vec<QuarantineEntry> = silta_store::batches_to_json_rows(&batches)?
        .iter()
        .map(entry)
        .collect();
    let records: Vec<u64> = entries.iter().filter_map(|entry| entry.record).collect();
    let mut replayed: HashMap<u64, chrono::DateTime<Utc>> = HashMap::new();
    for (record, marker) in records.iter().zip(state.credentials.replayed(&records)?) {
        if let Some(marker) = marker {
            replayed.insert(*record, marker.at);
        }
    }
    for entry in &mut entries {
        entry.replayed_at = entry
            .record
            .and_then(|record| replayed.get(&record).copied());
        entry.replayable &= entry.replayed_at.is_none();
    }
    Ok(entries)
}

pub async fn list_quarantine(
    state: &AppState,
    request: &QuarantineQuery,
) -> Result<Vec<QuarantineEntry>, ApiError> {
    let limit = request.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_RECORDS {
        return Err(ApiError::bad_request(format!(
            "limit must be 1..={MAX_RECORDS}"
        )));
    }
    let mut predicate = lit(true);
    if let Some(source) = &request.source {
        predicate = predicate.and(col("source").eq(lit(source.clone())));
    }
    if let Some(since) = &request.since {
        let since = parse_since(since)?;
        predicate = predicate.and(col("received_at").gt_eq(timestamp(since.timestamp_micros())));
    }
    if request.replayable {
        predicate = predicate.and(col("violations").is_not_null());
    }
    let mut entries = read(state, predicate, limit, false).await?;
    if request.replayable {
        entries.retain(|entry| entry.replayable);
    }
    Ok(entries)
}

/// Which records to replay: these, or every replayable one of a source.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    #[serde(default)]
    pub records: Vec<u64>,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StillBlocked {
    pub record: u64,
    pub violations: Vec<Violation>,
}

#[derive(Debug, Serialize)]
pub struct NotReplayable {
    pub record: u64,
    pub reason: String,
}

/// What a replay did with each record.
#[derive(Debug, Default, Serialize)]
pub struct ReplayOutcome {
    /// Stored as new events.
    pub replayed: Vec<u64>,
    /// Processed, but the source's bot, consent or suppression policy withheld them.
    pub withheld: Vec<u64>,
    /// The plan still blocks them; they stay in quarantine.
    pub still_blocked: Vec<StillBlocked>,
    pub already_replayed: Vec<u64>,
    /// Malformed events (not blocked by a plan) or events of a deleted source.
    pub not_replayable: Vec<NotReplayable>,
    pub not_found: Vec<u64>,
}

/// Replays quarantined events through the source's current policies and plan.
pub async fn replay(
    state: &AppState,
    request: &ReplayRequest,
    actor: &Actor,
) -> Result<ReplayOutcome, ApiError> {
    let predicate = match (&request.source, request.records.is_empty()) {
        (Some(source), true) => col("source")
            .eq(lit(source.clone()))
            .and(col("violations").is_not_null()),
        (None, false) if request.records.len() <= MAX_RECORDS => col("lsn").in_list(
            request
                .records
                .iter()
                .map(|record| lit(i64::try_from(*record).unwrap_or(i64::MAX)))
                .collect(),
            false,
        ),
        _ => {
            return Err(ApiError::bad_request(format!(
                "name either `records` (1 to {MAX_RECORDS} ids) or a `source`"
            )));
        }
    };
    let _one_at_a_time = state.ingestor.contracts.replaying.lock().await;
    let entries = read(state, predicate, MAX_RECORDS, true).await?;
    let sources = state.credentials.sources()?;
    let mut outcome = ReplayOutcome {
        not_found: request
            .records
            .iter()
            .filter(|record| !entries.iter().any(|entry| entry.record == Some(**record)))
            .copied()
            .collect(),
        ..ReplayOutcome::default()
    };
    let mut records = Vec::new();
    for entry in entries {
        let Some(record) = entry.record else { continue };
        if entry.replayed_at.is_some() {
            outcome.already_replayed.push(record);
            continue;
        }
        let refuse = |reason: String| NotReplayable { record, reason };
        if entry.violations.is_empty() {
            outcome.not_replayable.push(refuse(format!(
                "malformed, not blocked by a plan: {}",
                entry.reason
            )));
            continue;
        }
        let Some(source) = sources.iter().find(|source| source.id == entry.source) else {
            outcome
                .not_replayable
                .push(refuse(format!("source {} no longer exists", entry.source)));
            continue;
        };
        let Some(mut event) = entry
            .payload
            .as_deref()
            .and_then(|payload| serde_json::from_str::<Event>(payload).ok())
        else {
            outcome
                .not_replayable
                .push(refuse("the stored event cannot be read".to_string()));
            continue;
        };
        event.received_at = Utc::now();
        event.violations.clear();
        let mut admitted = state.ingestor.admit(vec![event], None, source, false);
        if let Some(blocked) = admitted.contract.blocked.pop() {
            outcome.still_blocked.push(StillBlocked {
                record,
                violations: blocked.violations,
            });
            continue;
        }
        if admitted.events.is_empty() {
            outcome.withheld.push(record);
        } else {
            outcome.replayed.push(record);
        }
        records.extend(state.ingestor.records(admitted.events, admitted.contract)?);
    }
    state.ingestor.append(records).await?;
    let done: Vec<u64> = outcome
        .replayed
        .iter()
        .chain(&outcome.withheld)
        .copied()
        .collect();
    if !done.is_empty() {
        state.credentials.mark_replayed(&done, actor)?;
    }
    Ok(outcome)
}

/// `GET /v1/quarantine`
pub async fn list(
    State(state): State<AppState>,
    request: Result<Query<QuarantineQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Vec<QuarantineEntry>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    let Query(request) = request?;
    list_quarantine(&state, &request).await.map(Json)
}

/// One quarantined record with its payload.
pub async fn quarantine_record(state: &AppState, record: u64) -> Result<QuarantineEntry, ApiError> {
    let position = i64::try_from(record).map_err(|_| ApiError::bad_request("no such record id"))?;
    read(state, col("lsn").eq(lit(position)), 1, true)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("no quarantined record {record}")))
}

/// `GET /v1/quarantine/{record}`: one record with its payload.
pub async fn show(
    State(state): State<AppState>,
    Path(record): Path<String>,
    headers: HeaderMap,
) -> Result<Json<QuarantineEntry>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    let record: u64 = record
        .parse()
        .map_err(|_| ApiError::bad_request("a record id is a number"))?;
    quarantine_record(&state, record).await.map(Json)
}

/// `POST /v1/quarantine/replay`
pub async fn replay_route(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<ReplayRequest>, JsonRejection>,
) -> Result<Json<ReplayOutcome>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(request) = request?;
    replay(&state, &request, &actor).await.map(Json)
}
