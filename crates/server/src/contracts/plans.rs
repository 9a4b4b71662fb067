//! Tracking plans over HTTP: propose a version (JSON or YAML), review it, read, export and diff
//! versions, attach a plan to a source, and draft a plan from the events a source sends.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use datafusion::prelude::{col, lit};
use serde::{Deserialize, Serialize};
use silta_contracts::{
    Drafter, PlanChange, Problem, TrackingPlan, diff_plans, parse_plan, plan_to_yaml,
};
use silta_model::EventType;
use silta_state::{Actor, Permission, PlanHead, PlanStatus, PlanVersion, Source, SourceContract};
use silta_store::{EventStore, QueryLimits};

use crate::analytics::expressions::timestamp;
use crate::{ApiError, AppState, auth, query};

/// Most events a draft reads.
const MAX_DRAFT_EVENTS: usize = 1_000_000;

/// Plan keys: short, lower-case, safe in paths and file names.
fn valid_key(key: &str) -> Result<(), ApiError> {
    let valid = !key.is_empty()
        && key.len() <= 100
        && key.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
        });
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a plan key is 1 to 100 characters of a-z, 0-9, - and _",
        ))
    }
}

/// Every problem of a plan as one 400 answer.
fn invalid_plan(problems: Vec<Problem>) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_plan",
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    );
    error.problems = problems
        .iter()
        .filter_map(|problem| serde_json::to_value(problem).ok())
        .collect();
    error
}

/// One version as a listing shows it.
#[derive(Debug, Serialize)]
pub struct VersionSummary {
    pub version: u32,
    pub status: PlanStatus,
    pub events: usize,
    pub proposed_by: String,
    pub proposed_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

fn actor_name(actor: &Actor) -> String {
    match actor {
        Actor::Token { name, role, .. } => format!("{name} ({role})"),
        Actor::Local { user } => format!("{user} (command line)"),
        Actor::System => "silta".to_string(),
    }
}

impl From<&PlanVersion> for VersionSummary {
    fn from(version: &PlanVersion) -> Self {
        VersionSummary {
            version: version.version,
            status: version.status,
            events: version.plan.events.len(),
            proposed_by: actor_name(&version.proposed_by),
            proposed_at: version.proposed_at,
            reviewed_by: version.reviewed_by.as_ref().map(actor_name),
            reviewed_at: version.reviewed_at,
            comment: version.comment.clone(),
        }
    }
}

/// A plan with its versions and the sources that keep to it.
#[derive(Debug, Serialize)]
pub struct PlanOverview {
    pub key: String,
    pub name: String,
    pub approved_version: Option<u32>,
    pub latest_version: u32,
    pub sources: Vec<String>,
    pub versions: Vec<VersionSummary>,
}

fn overview(
    state: &AppState,
    head: PlanHead,
    sources: &[Source],
) -> Result<PlanOverview, ApiError> {
    let versions = state.credentials.plan_versions(&head.key)?;
    let shown = head.approved_version.unwrap_or(head.latest_version);
    let name = versions
        .iter()
        .find(|version| version.version == shown)
        .map(|version| version.plan.name.clone())
        .unwrap_or_default();
    Ok(PlanOverview {
        sources: sources
            .iter()
            .filter(|source| {
                source
                    .contract
                    .as_ref()
                    .is_some_and(|contract| contract.plan == head.key)
            })
            .map(|source| source.id.clone())
            .collect(),
        versions: versions.iter().map(VersionSummary::from).collect(),
        name,
        key: head.key,
        approved_version: head.approved_version,
        latest_version: head.latest_version,
    })
}

pub fn list_plans(state: &AppState) -> Result<Vec<PlanOverview>, ApiError> {
    let sources = state.credentials.sources()?;
    state
        .credentials
        .plan_heads()?
        .into_iter()
        .map(|head| overview(state, head, &sources))
        .collect()
}

pub fn plan_overview(state: &AppState, key: &str) -> Result<PlanOverview, ApiError> {
    let head = state
        .credentials
        .plan_head(key)?
        .ok_or_else(|| ApiError::not_found(format!("no plan {key}")))?;
    overview(state, head, &state.credentials.sources()?)
}

/// Which version a request names: a number, `approved` or `latest`.
pub fn resolve_version(state: &AppState, key: &str, which: &str) -> Result<PlanVersion, ApiError> {
    let head = state
        .credentials
        .plan_head(key)?
        .ok_or_else(|| ApiError::not_found(format!("no plan {key}")))?;
    let number = match which {
        "latest" => head.latest_version,
        "approved" => head
            .approved_version
            .ok_or_else(|| ApiError::not_found(format!("plan {key} has no approved version")))?,
        number => number
            .parse()
            .map_err(|_| ApiError::bad_request("a version is a number, `approved` or `latest`"))?,
    };
    state
        .credentials
        .plan_version(key, number)?
        .ok_or_else(|| ApiError::not_found(format!("plan {key} has no version {number}")))
}

/// What a proposal answers: the new version and what it changes against the approved one.
#[derive(Debug, Serialize)]
pub struct Proposal {
    pub key: String,
    pub version: u32,
    pub status: PlanStatus,
    pub changes: Vec<PlanChange>,
}

/// Reads a plan from a request body or file: YAML or JSON, validated all at once.
pub fn read_plan(text: &[u8]) -> Result<TrackingPlan, ApiError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| ApiError::bad_request("a plan is UTF-8 text (YAML or JSON)"))?;
    parse_plan(text).map_err(invalid_plan)
}

/// Records a proposed version of plan `key`.
pub fn propose(
    state: &AppState,
    key: &str,
    plan: &TrackingPlan,
    actor: &Actor,
) -> Result<Proposal, ApiError> {
    valid_key(key)?;
    let problems = silta_contracts::schema_problems(plan);
    if !problems.is_empty() {
        return Err(invalid_plan(problems));
    }
    let changes = diff_plans(&approved_or_empty(state, key, plan)?, plan);
    let proposed = state.credentials.propose_plan(key, plan, actor)?;
    Ok(Proposal {
        key: key.to_string(),
        version: proposed.version,
        status: proposed.status,
        changes,
    })
}

/// Approves or rejects a proposed version; an approved one applies to new events at once.
pub fn review(
    state: &AppState,
    key: &str,
    version: u32,
    approve: bool,
    comment: Option<&str>,
    actor: &Actor,
) -> Result<VersionSummary, ApiError> {
    if !approve && comment.is_none_or(|comment| comment.trim().is_empty()) {
        return Err(ApiError::bad_request(
            "a rejection needs a comment saying why",
        ));
    }
    if comment.is_some_and(|comment| comment.len() > 10_000) {
        return Err(ApiError::bad_request("a comment is at most 10000 bytes"));
    }
    let reviewed = state
        .credentials
        .review_plan(key, version, approve, comment, actor)?;
    if approve {
        state
            .ingestor
            .contracts
            .activate(&reviewed)
            .map_err(ApiError::internal)?;
    }
    Ok(VersionSummary::from(&reviewed))
}

pub fn diff(
    state: &AppState,
    key: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<PlanChange>, ApiError> {
    let to = resolve_version(state, key, to.unwrap_or("latest"))?;
    let from = match from {
        Some(which) => resolve_version(state, key, which)?.plan,
        None => approved_or_empty(state, key, &to.plan)?,
    };
    Ok(diff_plans(&from, &to.plan))
}

/// What a new version is compared with by default: the approved version, or (before one is
/// approved) a plan like `plan` without events.
fn approved_or_empty(
    state: &AppState,
    key: &str,
    plan: &TrackingPlan,
) -> Result<TrackingPlan, ApiError> {
    let approved = match state.credentials.plan_head(key)? {
        Some(PlanHead {
            approved_version: Some(version),
            ..
        }) => state.credentials.plan_version(key, version)?,
        _ => None,
    };
    Ok(approved.map_or_else(
        || TrackingPlan {
            events: Vec::new(),
            ..plan.clone()
        },
        |found| found.plan,
    ))
}

pub fn delete(state: &AppState, key: &str, actor: &Actor) -> Result<(), ApiError> {
    state.credentials.delete_plan(key, actor)?;
    state.ingestor.contracts.deactivate(key);
    Ok(())
}

/// Attaches a plan to a source, or detaches it.
pub fn attach(
    state: &AppState,
    source_id: &str,
    contract: Option<SourceContract>,
    actor: &Actor,
) -> Result<Source, ApiError> {
    Ok(state
        .credentials
        .set_source_contract(source_id, contract, actor)?)
}

/// `30d`, `12h`, `90m` back from now, or an RFC 3339 time.
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let invalid = || {
        ApiError::bad_request(format!(
            "`{text}` is not a duration such as 30d, 12h or 90m, nor an RFC 3339 time"
        ))
    };
    let unit = text.chars().last().ok_or_else(invalid)?;
    let number: i64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| invalid())?;
    let duration = match unit {
        'd' => chrono::Duration::try_days(number),
        'h' => chrono::Duration::try_hours(number),
        'm' => chrono::Duration::try_minutes(number),
        _ => None,
    }
    .filter(|_| (0..=36_500 * 24 * 60).contains(&number))
    .ok_or_else(invalid)?;
    Ok(Utc::now() - duration)
}

/// A draft of a plan: every event `source` (its id or name) sent since `since`.
pub async fn draft(
    state: &AppState,
    source: &str,
    since: DateTime<Utc>,
    name: Option<&str>,
) -> Result<TrackingPlan, ApiError> {
    let sources = state.credentials.sources()?;
    let found = sources
        .iter()
        .find(|candidate| candidate.id == source || candidate.name == source)
        .ok_or_else(|| ApiError::not_found(format!("no source with id or name `{source}`")))?;
    query::read_your_writes(state).await;
    let limits = QueryLimits::internal();
    let frame = state
        .store
        .session(&limits)?
        .table("events")
        .await?
        .filter(
            col("source")
                .eq(lit(found.id.clone()))
                .and(col("timestamp").gt_eq(timestamp(since.timestamp_micros()))),
        )?
        .select_columns(&["type", "event", "name", "properties", "traits"])?
        .limit(0, Some(MAX_DRAFT_EVENTS))?;
    let mut drafter = Drafter::default();
    EventStore::stream_frame(frame, &limits, |batch| {
        let texts: Vec<arrow::array::ArrayRef> = (0..batch.num_columns())
            .map(|column| {
                arrow::compute::cast(batch.column(column), &arrow::datatypes::DataType::Utf8)
            })
            .collect::<Result<_, _>>()?;
        let text = |column: usize, row: usize| -> Option<&str> {
            use arrow::array::{Array, AsArray};
            let array = texts[column].as_string::<i32>();
            array.is_valid(row).then(|| array.value(row))
        };
        for row in 0..batch.num_rows() {
            let Some(event_type) = text(0, row).and_then(|kind| kind.parse::<EventType>().ok())
            else {
                continue;
            };
            let payload_column = match event_type {
                EventType::Identify | EventType::Group => 4,
                _ => 3,
            };
            let payload = text(payload_column, row)
                .and_then(|payload| serde_json::from_str(payload).ok())
                .unwrap_or(serde_json::Value::Null);
            drafter.observe(event_type, text(1, row).or(text(2, row)), &payload);
        }
        Ok(())
    })
    .await?;
    Ok(drafter.plan(name.unwrap_or(&format!("{} (draft)", found.name))))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanFormat {
    #[default]
    Json,
    Yaml,
}

/// A plan document as JSON or YAML.
fn document(plan: &TrackingPlan, format: PlanFormat) -> Response {
    match format {
        PlanFormat::Json => Json(plan).into_response(),
        PlanFormat::Yaml => {
            let mut response = plan_to_yaml(plan).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml; charset=utf-8"),
            );
            response
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    #[serde(default)]
    pub format: PlanFormat,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftQuery {
    pub source: String,
    #[serde(default = "thirty_days")]
    pub since: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub format: PlanFormat,
}

fn thirty_days() -> String {
    "30d".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    #[serde(default)]
    pub comment: Option<String>,
}

/// `GET /v1/plans`
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<PlanOverview>>, ApiError> {
    auth::require(&state, &headers, Permission::ReadContracts)?;
    list_plans(&state).map(Json)
}

/// `GET /v1/plans/{key}`
pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PlanOverview>, ApiError> {
    auth::require(&state, &headers, Permission::ReadContracts)?;
    plan_overview(&state, &key).map(Json)
}

/// `DELETE /v1/plans/{key}`
pub async fn remove(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    delete(&state, &key, &actor)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/plans/{key}/versions`: the body is the plan as JSON or YAML.
pub async fn put_version(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Proposal>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::ProposePlans)?;
    let plan = read_plan(&body)?;
    propose(&state, &key, &plan, &actor).map(|proposal| (StatusCode::CREATED, Json(proposal)))
}

/// `GET /v1/plans/{key}/versions/{version}`: the document, as JSON or YAML (`?format=yaml`).
pub async fn get_version(
    State(state): State<AppState>,
    Path((key, version)): Path<(String, String)>,
    format: Result<Query<DocumentQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::require(&state, &headers, Permission::ReadContracts)?;
    let Query(format) = format?;
    let found = resolve_version(&state, &key, &version)?;
    Ok(document(&found.plan, format.format))
}

/// `POST /v1/plans/{key}/versions/{version}/approve` and `.../reject`
pub async fn review_route(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path((key, version, verdict)): Path<(String, String, String)>,
    headers: HeaderMap,
    request: Result<Json<ReviewRequest>, JsonRejection>,
) -> Result<Json<VersionSummary>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let approve = match verdict.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::not_found("a version is approved or rejected")),
    };
    let Json(request) = request?;
    let version = version
        .parse()
        .map_err(|_| ApiError::bad_request("a version is a number"))?;
    review(
        &state,
        &key,
        version,
        approve,
        request.comment.as_deref(),
        &actor,
    )
    .map(Json)
}

/// `GET /v1/plans/{key}/diff?from=&to=`: from the approved version to the latest by default.
pub async fn get_diff(
    State(state): State<AppState>,
    Path(key): Path<String>,
    query: Result<Query<DiffQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Vec<PlanChange>>, ApiError> {
    auth::require(&state, &headers, Permission::ReadContracts)?;
    let Query(query) = query?;
    diff(&state, &key, query.from.as_deref(), query.to.as_deref()).map(Json)
}

/// `GET /v1/plans/draft?source=&since=30d`
pub async fn get_draft(
    State(state): State<AppState>,
    query: Result<Query<DraftQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::require(&state, &headers, Permission::ProposePlans)?;
    let Query(query) = query?;
    let since = parse_since(&query.since)?;
    let plan = draft(&state, &query.source, since, query.name.as_deref()).await?;
    Ok(document(&plan, query.format))
}

/// `PUT /v1/sources/{id}/contract`
pub async fn put_contract(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(source_id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<SourceContract>, JsonRejection>,
) -> Result<Json<Source>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(contract) = request?;
    attach(&state, &source_id, Some(contract), &actor).map(Json)
}

/// `DELETE /v1/sources/{id}/contract`
pub async fn delete_contract(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(source_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Source>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    attach(&state, &source_id, None, &actor).map(Json)
}
