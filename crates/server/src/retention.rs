//! Retention: deleting events and quarantined events older than the policy allows, on a
//! schedule and on request (`POST /v1/retention/apply`, `silta retention apply`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use chrono::Utc;
use silta_state::{Actor, Change, Permission};
use silta_store::Erased;

use crate::config::Retention;
use crate::{ApiError, AppState, auth};

/// Applies `policy` now; a run that deleted anything is audited.
pub async fn apply_retention(
    state: &AppState,
    policy: &Retention,
    actor: &Actor,
) -> Result<Erased, ApiError> {
    // Events acknowledged so far are judged by this run too.
    crate::query::read_your_writes(state).await;
    let now = Utc::now();
    let events_before = (policy.events_days > 0)
        .then(|| now.date_naive() - chrono::Duration::days(i64::from(policy.events_days)));
    let quarantine_before = (policy.quarantine_days > 0)
        .then(|| now - chrono::Duration::days(i64::from(policy.quarantine_days)));
    let erased = state
        .store
        .apply_retention(events_before, quarantine_before)
        .await?;
    let deleted_rows = |rows: Option<u64>| rows.is_none_or(|rows| rows > 0);
    if deleted_rows(erased.events) || deleted_rows(erased.quarantined) {
        state.credentials.record(Change {
            actor,
            action: "retention.applied",
            target: "events, quarantine",
            detail: serde_json::json!({
                "events_before": events_before,
                "quarantine_before": quarantine_before,
                "erased": erased,
            }),
        })?;
    }
    Ok(erased)
}

/// Applies the configured policy at start and then on its interval, for as long as the
/// server runs.
pub async fn run_schedule(state: AppState, policy: Retention) {
    let interval = Duration::from_secs(policy.interval_hours.max(1) * 3600);
    loop {
        if let Err(error) = apply_retention(&state, &policy, &Actor::System).await {
            tracing::error!(error = %error.message, "retention could not be applied");
        }
        tokio::time::sleep(interval).await;
    }
}

/// `POST /v1/retention/apply` (admin)
pub async fn apply(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Erased>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let policy = state.retention.clone();
    Ok(Json(apply_retention(&state, &policy, &actor).await?))
}
