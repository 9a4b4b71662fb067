//! Funnels, retention, web analytics and attribution over HTTP (every role may read them).
//! Each analysis reads the events it needs with one DataFusion plan, shown as SQL with
//! `explain`, groups the rows by person (merged profile) and counts with `silta_analytics`.

pub mod attribution;
pub mod expressions;
pub mod funnel;
pub mod retention;
pub mod scan;
pub mod web;

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use silta_state::Permission;

use crate::output::{FormatQuery, Tabular, respond};
use crate::{ApiError, AppState, auth, query};

/// What every analysis endpoint does around its computation: check the role, read the
/// request, wait for what was acknowledged, answer as JSON or CSV.
async fn answer<R, T>(
    state: &AppState,
    headers: &HeaderMap,
    output: Result<Query<FormatQuery>, QueryRejection>,
    request: Result<Json<R>, JsonRejection>,
    compute: impl AsyncFnOnce(&AppState, &R) -> Result<T, ApiError>,
) -> Result<Response, ApiError>
where
    T: Serialize + Tabular,
{
    auth::require(state, headers, Permission::Analytics)?;
    let Query(output) = output?;
    let Json(request) = request?;
    query::read_your_writes(state).await;
    respond(compute(state, &request).await?, output.format)
}
