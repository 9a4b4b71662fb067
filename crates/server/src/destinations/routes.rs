//! `/v1/destinations` (admins) over HTTP, and `/metrics` in Prometheus' text format.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use silta_destinations::{DestinationSpec, DestinationStats};
use silta_state::Permission;

use super::manage;
use crate::{ApiError, AppState, auth};

pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<DestinationSpec>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(spec) = request?;
    let created = manage::create_destination(&state, spec, &actor)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn replace(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<DestinationSpec>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(spec) = request?;
    Ok(Json(manage::replace_destination(
        &state, &id, spec, &actor,
    )?))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Value>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(manage::list_destinations(&state)?))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(manage::show_destination(&state, &id)?))
}

pub async fn delete(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    manage::delete_destination(&state, &id, &actor)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(manage::test_destination(&state, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLettersQuery {
    #[serde(default = "default_page")]
    limit: usize,
}

fn default_page() -> usize {
    100
}

pub async fn dead_letters(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<DeadLettersQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    let Query(query) = query?;
    Ok(Json(manage::dead_letters(&state, &id, query.limit)?))
}

pub async fn replay(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    Ok(Json(manage::replay_dead_letters(&state, &id, &actor)?))
}

/// `POST /v1/destinations/{id}/sync`: queues every member of the activated audiences.
pub async fn sync(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    Ok(Json(manage::sync_destination(&state, &id, &actor)?))
}

/// One figure of a destination, as a Prometheus sample value.
type Figure = fn(&DestinationStats) -> f64;

/// `GET /metrics`: delivery counters and queue depths per destination, and the store's
/// buffer, in Prometheus' text format.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    let mut text = String::new();
    let store = state.store.stats();
    let _ = writeln!(
        text,
        "# TYPE silta_buffered_rows gauge\nsilta_buffered_rows {}",
        store.buffered_rows
    );
    let destinations = state.credentials.destinations()?;
    let series: [(&str, &str, Figure); 7] = [
        ("silta_destination_delivered_total", "counter", |s| {
            s.delivered as f64
        }),
        ("silta_destination_failed_attempts_total", "counter", |s| {
            s.failed_attempts as f64
        }),
        ("silta_destination_dead_lettered_total", "counter", |s| {
            s.dead_lettered as f64
        }),
        ("silta_destination_suppressed_total", "counter", |s| {
            s.suppressed_without_consent as f64
        }),
        ("silta_destination_queued", "gauge", |s| s.queued as f64),
        ("silta_destination_dead_letters", "gauge", |s| {
            s.dead_letters as f64
        }),
        ("silta_destination_retrying", "gauge", |s| {
            f64::from(u8::from(s.retrying))
        }),
    ];
    let stats: Vec<(String, DestinationStats)> = destinations
        .iter()
        .map(|destination| {
            Ok((
                destination.id.clone(),
                state.destinations.stats(&destination.id)?,
            ))
        })
        .collect::<Result<_, ApiError>>()?;
    for (name, kind, value) in series {
        let _ = writeln!(text, "# TYPE {name} {kind}");
        for (id, figures) in &stats {
            let _ = writeln!(text, "{name}{{destination=\"{id}\"}} {}", value(figures));
        }
    }
    let _ = writeln!(text, "# TYPE silta_destination_latency_ms gauge");
    for (id, figures) in &stats {
        for (quantile, latency) in [
            ("0.5", figures.latency_ms_p50),
            ("0.99", figures.latency_ms_p99),
        ] {
            if let Some(latency) = latency {
                let _ = writeln!(
                    text,
                    "silta_destination_latency_ms{{destination=\"{id}\",quantile=\"{quantile}\"}} {latency}"
                );
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
