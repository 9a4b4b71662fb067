//! Media mix: models fitted on spend (the `spend` table or ad-server events) and a KPI, budget plans and scenario
//! comparisons (`/v1/media-mix/...`). Fitting and planning need [`Permission::MediaPlans`];
//! reading fitted models is analytics, open to every role.

mod inputs;
mod models;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use silta_mmm::{
    BudgetPlan, Granularity, ModelSpec, PlanRequest, SamplerSettings, ScenarioComparison,
    ScenarioRequest,
};
use silta_state::{Actor, Change, Permission};

pub use inputs::{KpiSource, Measure, SpendSource};
pub use models::{ModelRecord, Models, Status};

use crate::{ApiError, AppState, auth};

/// Largest request body: a KPI and controls CSV of some years of days fit well inside.
pub const MAX_MEDIA_MIX_BODY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRequest {
    pub name: String,
    #[serde(default)]
    pub granularity: Granularity,
    #[serde(default)]
    pub spend: SpendSource,
    pub kpi: KpiSource,
    /// `date,control,value` rows: prices, promotions, holidays, a competitor index.
    #[serde(default)]
    pub controls_csv: Option<String>,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub sampler: SamplerSettings,
}

/// Reads and checks everything a fit needs and records the model as fitting; the caller runs
/// [`run_fit`]. Errors in the request or the data are answered here, before any sampling.
pub async fn prepare_fit(
    state: &AppState,
    request: &FitRequest,
    actor: &Actor,
) -> Result<(ModelRecord, silta_mmm::MediaData), ApiError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::bad_request("name must be 1 to 200 characters"));
    }
    let (spend, days) = inputs::spend(state, &request.spend, request.from, request.to).await?;
    let kpi = inputs::kpi(state, &request.kpi, days).await?;
    let controls = inputs::controls(request.controls_csv.as_deref())?;
    let prepared = inputs::align(request.granularity, &spend, &kpi, &controls, days)?;
    silta_mmm::check(&prepared.data, &request.model, &request.sampler)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let record = ModelRecord {
        id: Models::new_id(),
        name: name.to_string(),
        status: Status::Fitting,
        created_at: Utc::now(),
        finished_at: None,
        fit_seconds: None,
        error: None,
        granularity: request.granularity,
        kpi: request.kpi.describe(),
        periods: prepared.data.len(),
        channels: prepared
            .data
            .channels
            .iter()
            .map(|channel| channel.name.clone())
            .collect(),
        model: request.model.clone(),
        sampler: request.sampler,
        report: None,
    };
    if !state.media_mix.start(&record.id) {
        return Err(ApiError::conflict(
            "another media-mix model is being fitted; try again when it is ready",
        ));
    }
    let saved = state.media_mix.save(&record).and_then(|()| {
        state.credentials.record(Change {
            actor,
            action: "media_mix.fit",
            target: &record.id,
            detail: json!({"name": record.name, "periods": record.periods, "channels": record.channels.len()}),
        })?;
        Ok(())
    });
    if let Err(error) = saved {
        state.media_mix.finish();
        return Err(error);
    }
    Ok((record, prepared.data))
}

/// Samples the model (CPU-bound, on a blocking thread) and stores the outcome.
pub async fn run_fit(
    models: Arc<Models>,
    mut record: ModelRecord,
    data: silta_mmm::MediaData,
) -> Result<ModelRecord, ApiError> {
    let started = Instant::now();
    let (spec, settings) = (record.model.clone(), record.sampler);
    let outcome =
        tokio::task::spawn_blocking(move || silta_mmm::fit(&data, &spec, &settings)).await;
    record.finished_at = Some(Utc::now());
    record.fit_seconds = Some(started.elapsed().as_secs_f64());
    let saved = match outcome {
        Ok(Ok(fit)) => {
            record.status = Status::Ready;
            record.report = Some(fit.report);
            models
                .save_response(&record.id, &fit.response)
                .and_then(|()| models.save(&record))
        }
        Ok(Err(error)) => {
            record.status = Status::Failed;
            record.error = Some(error.to_string());
            models.save(&record)
        }
        Err(panic) => {
            record.status = Status::Failed;
            record.error = Some("the fit stopped unexpectedly".into());
            tracing::error!(%panic, "media-mix fit");
            models.save(&record)
        }
    };
    models.finish();
    saved.map(|()| record)
}

/// `POST /v1/media-mix/models`: 202 with the model, which is fitted in the background.
pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<FitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<ModelRecord>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::MediaPlans)?;
    let Json(request) = request?;
    let (record, data) = prepare_fit(&state, &request, &actor).await?;
    let models = Arc::clone(&state.media_mix);
    let answer = record.clone();
    tokio::spawn(async move {
        if let Err(error) = run_fit(models, record, data).await {
            tracing::error!(message = %error.message, "media-mix fit not stored");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<ModelRecord>>, ApiError> {
    auth::require(&state, &headers, Permission::Analytics)?;
    Ok(Json(state.media_mix.list()?))
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ModelRecord>, ApiError> {
    auth::require(&state, &headers, Permission::Analytics)?;
    state
        .media_mix
        .get(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no media-mix model `{id}`")))
}

pub async fn delete(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::MediaPlans)?;
    if !state.media_mix.delete(&id)? {
        return Err(ApiError::not_found(format!("no media-mix model `{id}`")));
    }
    state.credentials.record(Change {
        actor: &actor,
        action: "media_mix.deleted",
        target: &id,
        detail: json!({}),
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// The budget split that maximises the expected KPI, on a blocking thread.
pub async fn plan(models: &Models, id: &str, request: PlanRequest) -> Result<BudgetPlan, ApiError> {
    let response = models.response(id)?;
    tokio::task::spawn_blocking(move || silta_mmm::optimise(&response, &request))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| ApiError::bad_request(error.to_string()))
}

/// User-written plans against the current split and the optimum, on a blocking thread.
pub async fn scenarios(
    models: &Models,
    id: &str,
    request: ScenarioRequest,
) -> Result<ScenarioComparison, ApiError> {
    let response = models.response(id)?;
    tokio::task::spawn_blocking(move || silta_mmm::compare(&response, &request))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| ApiError::bad_request(error.to_string()))
}

/// `POST /v1/media-mix/models/{id}/plans`.
pub async fn plan_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<PlanRequest>, JsonRejection>,
) -> Result<Json<BudgetPlan>, ApiError> {
    auth::require(&state, &headers, Permission::MediaPlans)?;
    let Json(request) = request?;
    Ok(Json(plan(&state.media_mix, &id, request).await?))
}

/// `POST /v1/media-mix/models/{id}/scenarios`.
pub async fn scenarios_route(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Result<Json<ScenarioRequest>, JsonRejection>,
) -> Result<Json<ScenarioComparison>, ApiError> {
    auth::require(&state, &headers, Permission::MediaPlans)?;
    let Json(request) = request?;
    Ok(Json(scenarios(&state.media_mix, &id, request).await?))
}
