//! Experiments over HTTP (admin and marketer): definitions, and the assignment of people to
//! variants, computed as GrowthBook's SDKs compute it, on the merged profile: a person known by
//! a user id gets the same variant on every device.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use silta_experiments::{
    Assignment, BayesianConfig, BayesianResult, Experiment, Statistic, TestConfig, TestResult,
    bayesian_test, equal_weights, sample_ratio_mismatch, two_sided_test,
};
use silta_model::{Channel, Event, EventType};
use silta_state::Permission;

use crate::consent::SILTA_SOURCE;
use crate::{ApiError, AppState, auth, query};

/// People one bulk request may assign at most.
const MAX_BULK: usize = 10_000;

pub(crate) fn experiment(state: &AppState, key: &str) -> Result<Experiment, ApiError> {
    state
        .credentials
        .experiment(key)?
        .ok_or_else(|| ApiError::not_found(format!("no experiment `{key}`")))
}

/// `PUT /v1/experiments/{key}`: creates or replaces a definition.
pub async fn put(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
    request: Result<Json<Experiment>, JsonRejection>,
) -> Result<Json<Experiment>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Experiments)?;
    let Json(definition) = request?;
    if definition.key != key {
        return Err(ApiError::bad_request("the body's key must be the path's"));
    }
    definition
        .validate()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    state.credentials.put_experiment(&definition, &actor)?;
    Ok(Json(definition))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Experiment>>, ApiError> {
    auth::require(&state, &headers, Permission::Experiments)?;
    Ok(Json(state.credentials.experiments()?))
}

pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Experiment>, ApiError> {
    auth::require(&state, &headers, Permission::Experiments)?;
    Ok(Json(experiment(&state, &key)?))
}

pub async fn delete(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Experiments)?;
    state.credentials.delete_experiment(&key, &actor)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    identifier_type: String,
    value: String,
    /// Record an `Experiment Viewed` event for a person in the experiment.
    #[serde(default)]
    record_exposure: bool,
}

#[derive(Debug, Serialize)]
pub struct PersonAssignment {
    pub identifier_type: String,
    pub value: String,
    pub profile_id: Option<String>,
    #[serde(flatten)]
    pub assignment: Assignment,
}

/// Assigns one person: the identifier given first, then the rest of their profile's.
fn assign(
    state: &AppState,
    definition: &Experiment,
    person: &Person,
) -> Result<PersonAssignment, ApiError> {
    let graph = state.identity.read();
    let given = graph
        .config()
        .normalise(&person.identifier_type, &person.value)
        .map_err(|problem| {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_identifier", problem)
        })?;
    let mut identifiers = vec![(person.identifier_type.clone(), given)];
    let profile = state.lookup(&graph, &person.identifier_type, &person.value)?;
    if let Some(profile) = profile {
        identifiers.extend(graph.identifiers_of(profile));
    }
    Ok(PersonAssignment {
        identifier_type: person.identifier_type.clone(),
        value: person.value.clone(),
        profile_id: profile.map(|profile| profile.id.clone()),
        assignment: definition.assign(&identifiers, Utc::now()),
    })
}

/// `Experiment Viewed` for an assigned person, through the write-ahead log.
fn exposure(definition: &Experiment, person: &Person, assigned: &PersonAssignment) -> Event {
    let now = Utc::now();
    let (user_id, anonymous_id) = match person.identifier_type.as_str() {
        "user_id" => (Some(person.value.clone()), None),
        "anonymous_id" => (None, Some(person.value.clone())),
        _ => (None, None),
    };
    Event {
        message_id: format!("exposure-{}", uuid::Uuid::new_v4()),
        event_type: EventType::Track,
        event: Some("Experiment Viewed".to_string()),
        user_id,
        anonymous_id,
        timestamp: now,
        received_at: now,
        source_id: SILTA_SOURCE.to_string(),
        channel: Channel::Server,
        properties: json!({
            "experiment_id": definition.key,
            "variation_id": assigned.assignment.variation,
            "variation_name": assigned.assignment.variation_name,
        })
        .to_string(),
        traits: "{}".to_string(),
        integrations: "{}".to_string(),
        context: json!({
            "externalIds": [{"type": person.identifier_type, "id": person.value}],
        })
        .to_string(),
        ..Event::default()
    }
}

async fn assign_and_record(
    state: &AppState,
    definition: &Experiment,
    people: &[Person],
) -> Result<Vec<PersonAssignment>, ApiError> {
    query::read_your_writes(state).await;
    let mut assigned = Vec::with_capacity(people.len());
    for person in people {
        let assignment = assign(state, definition, person)?;
        if person.record_exposure && assignment.assignment.in_experiment {
            state
                .ingestor
                .record(exposure(definition, person, &assignment))
                .await?;
        }
        assigned.push(assignment);
    }
    Ok(assigned)
}

/// `GET /v1/experiments/{key}/assignment?identifier_type=&value=&record_exposure=`
pub async fn assignment(
    State(state): State<AppState>,
    Path(key): Path<String>,
    person: Result<Query<Person>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<PersonAssignment>, ApiError> {
    auth::require(&state, &headers, Permission::Experiments)?;
    let Query(person) = person?;
    let definition = experiment(&state, &key)?;
    let mut assigned = assign_and_record(&state, &definition, &[person]).await?;
    Ok(Json(assigned.remove(0)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct People {
    people: Vec<Person>,
}

/// `POST /v1/experiments/{key}/assignments` with `{"people": [...]}`.
pub async fn assignments(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    request: Result<Json<People>, JsonRejection>,
) -> Result<Json<Vec<PersonAssignment>>, ApiError> {
    auth::require(&state, &headers, Permission::Experiments)?;
    let Json(request) = request?;
    if request.people.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BULK} people a request"
        )));
    }
    let definition = experiment(&state, &key)?;
    Ok(Json(
        assign_and_record(&state, &definition, &request.people).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    /// One metric's summary statistics per variation, control first.
    variations: Vec<Statistic>,
    #[serde(default)]
    config: TestConfig,
    /// Adds the Bayesian answer with these settings.
    #[serde(default)]
    bayesian: Option<BayesianConfig>,
}

#[derive(Debug, Serialize)]
pub struct Analysis {
    /// Chi-square p-value of the units per variation against the experiment's weights.
    pub srm_p_value: f64,
    /// Below 0.001: the split is broken and no conclusion should be drawn.
    pub srm_warning: bool,
    /// Each variation after control against control.
    pub results: Vec<TestResult>,
    /// With `bayesian` in the request: each variation after control, from the posterior.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bayesian: Option<Vec<BayesianResult>>,
}

/// GrowthBook's threshold for a sample ratio mismatch.
pub(crate) const SRM_THRESHOLD: f64 = 0.001;

/// `POST /v1/experiments/{key}/analysis`: one metric's summary statistics per variation in,
/// the frequentist (or sequential) result of each variation against control out.
pub async fn analysis(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    request: Result<Json<AnalysisRequest>, JsonRejection>,
) -> Result<Json<Analysis>, ApiError> {
    auth::require(&state, &headers, Permission::Experiments)?;
    let Json(request) = request?;
    let definition = experiment(&state, &key)?;
    if request.variations.len() != definition.variations.len() {
        return Err(ApiError::bad_request(format!(
            "the experiment has {} variations",
            definition.variations.len()
        )));
    }
    let config = request.config;
    if !(config.alpha > 0.0 && config.alpha < 1.0)
        || config
            .sequential_tuning
            .is_some_and(|tuning| tuning.is_nan() || tuning <= 0.0)
    {
        return Err(ApiError::bad_request(
            "alpha must be in (0, 1) and the sequential tuning positive",
        ));
    }
    let units: Vec<u64> = request
        .variations
        .iter()
        .map(|statistic| statistic.n() as u64)
        .collect();
    let weights = definition
        .weights
        .clone()
        .unwrap_or_else(|| equal_weights(definition.variations.len()));
    let srm_p_value = sample_ratio_mismatch(&units, &weights);
    let (results, bayesian) =
        against_control(&request.variations, &config, request.bayesian.as_ref());
    Ok(Json(Analysis {
        srm_p_value,
        srm_warning: srm_p_value < SRM_THRESHOLD,
        results,
        bayesian,
    }))
}

/// Each variation after the first (control) tested against it, and with `bayesian` also its
/// Bayesian answer.
pub(crate) fn against_control(
    statistics: &[Statistic],
    config: &TestConfig,
    bayesian: Option<&BayesianConfig>,
) -> (Vec<TestResult>, Option<Vec<BayesianResult>>) {
    let Some((control, treatments)) = statistics.split_first() else {
        return (Vec::new(), None);
    };
    let results = treatments
        .iter()
        .map(|treatment| two_sided_test(control, treatment, config))
        .collect();
    let posteriors = bayesian.map(|bayesian| {
        treatments
            .iter()
            .map(|treatment| bayesian_test(control, treatment, bayesian))
            .collect()
    });
    (results, posteriors)
}
