//! Data-subject requests (GDPR articles 15, 17 and 20), admin only.
//!
//! - `GET /v1/subjects/{type}/{value}`: everything Silta holds about a person, found by any of
//!   their identifiers, as one JSON document.
//! - `POST /v1/subjects/{type}/{value}/erase`: removes the person from every store. The
//!   identifiers go on the suppression list at once; the rest runs as a durable job whose
//!   identifiers wait in `<data>/subjects/<id>.json` until it completes, so a crash resumes it.
//! - `GET /v1/subjects/requests[/{id}]`: requests and their progress (no personal data).

use std::net::SocketAddr;
use std::path::{Path as FilePath, PathBuf};

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use datafusion::prelude::Expr;
use serde::{Deserialize, Serialize};
use silta_identity::Merge;
use silta_state::{Actor, Change, Permission, RequestStatus, SubjectRequest};
use silta_store::{QueryLimits, Subject};

use crate::profiles::ProfileView;
use crate::{ApiError, AppState, auth, query};

/// Events an export holds at most; beyond it the export says it was cut.
const MAX_EXPORT_ROWS: usize = 1_000_000;

/// What Silta holds about one person.
#[derive(Debug, Serialize)]
pub struct SubjectExport {
    pub generated_at: DateTime<Utc>,
    /// The identifiers the export searched for.
    pub identifiers: Vec<(String, String)>,
    pub profile: Option<ProfileView>,
    pub merges: Vec<Merge>,
    /// Every stored event that names one of the identifiers, all columns.
    pub events: Vec<serde_json::Value>,
    /// Quarantined (rejected) events that name one of them.
    pub quarantined: Vec<serde_json::Value>,
    pub truncated: bool,
}

/// A pending erasure, as its job file holds it.
#[derive(Debug, Serialize, Deserialize)]
struct ErasureJob {
    id: String,
    identifiers: Vec<(String, String)>,
}

fn jobs_dir(data: &FilePath) -> PathBuf {
    data.join("subjects")
}

/// A person as the identity graph knows them.
struct Found {
    /// All of their profile's identifiers, or the one asked for when no profile has it
    /// (quarantined events may still name it).
    identifiers: Vec<(String, String)>,
    profile: Option<ProfileView>,
    merges: Vec<Merge>,
}

fn find(state: &AppState, kind: &str, value: &str) -> Result<Found, ApiError> {
    let graph = state.identity.read();
    match state.lookup(&graph, kind, value)? {
        Some(profile) => Ok(Found {
            identifiers: graph.identifiers_of(profile),
            profile: Some(ProfileView::of(&graph, profile)),
            merges: graph.merges_of(profile).into_iter().cloned().collect(),
        }),
        None => {
            let normalised = graph.config().normalise(kind, value).map_err(|problem| {
                ApiError::new(StatusCode::BAD_REQUEST, "malformed_identifier", problem)
            })?;
            Ok(Found {
                identifiers: vec![(kind.to_string(), normalised)],
                profile: None,
                merges: Vec::new(),
            })
        }
    }
}

fn values(identifiers: &[(String, String)]) -> Vec<String> {
    identifiers.iter().map(|(_, value)| value.clone()).collect()
}

async fn rows_matching(
    state: &AppState,
    table: &'static str,
    predicate: Expr,
) -> Result<(Vec<serde_json::Value>, bool), ApiError> {
    let limits = QueryLimits {
        max_rows: MAX_EXPORT_ROWS,
        ..QueryLimits::internal()
    };
    let (batches, truncated) = state
        .store
        .query_frame(&limits, |context| async move {
            context.table(table).await?.filter(predicate)
        })
        .await?;
    Ok((silta_store::batches_to_json_rows(&batches)?, truncated))
}

/// `GET /v1/subjects/{type}/{value}`
pub async fn export(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path((kind, value)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<SubjectExport>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    export_subject(&state, &kind, &value, &actor)
        .await
        .map(Json)
}

/// Everything Silta holds about the person with `kind:value`; the export is audited.
pub async fn export_subject(
    state: &AppState,
    kind: &str,
    value: &str,
    actor: &Actor,
) -> Result<SubjectExport, ApiError> {
    query::read_your_writes(state).await;
    let Found {
        identifiers,
        profile,
        merges,
    } = find(state, kind, value)?;
    let subject = Subject::new(&values(&identifiers));
    let (events, events_cut) = rows_matching(state, "events", subject.events_predicate()).await?;
    let (quarantined, quarantine_cut) =
        rows_matching(state, "quarantine", subject.quarantine_predicate()).await?;
    state.credentials.record(Change {
        actor,
        action: "subject.exported",
        target: profile
            .as_ref()
            .map_or("", |profile| profile.profile_id.as_str()),
        detail: serde_json::json!({
            "identifier_type": kind,
            "events": events.len(),
            "quarantined": quarantined.len(),
        }),
    })?;
    Ok(SubjectExport {
        generated_at: Utc::now(),
        identifiers,
        profile,
        merges,
        events,
        quarantined,
        truncated: events_cut || quarantine_cut,
    })
}

/// `POST /v1/subjects/{type}/{value}/erase`: 202 with the request; its progress at
/// `GET /v1/subjects/requests/{id}`.
pub async fn request_erasure(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path((kind, value)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<SubjectRequest>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let (request, _job) = erase_subject(&state, &kind, &value, &actor).await?;
    Ok((StatusCode::ACCEPTED, Json(request)))
}

/// Records an erasure request, suppresses the person's identifiers at once and starts the job
/// that removes them from every store; the job's handle resolves when it has ended.
pub async fn erase_subject(
    state: &AppState,
    kind: &str,
    value: &str,
    actor: &Actor,
) -> Result<(SubjectRequest, tokio::task::JoinHandle<()>), ApiError> {
    query::read_your_writes(state).await;
    let identifiers = find(state, kind, value)?.identifiers;
    let request = SubjectRequest {
        id: format!("dsr_{}", uuid::Uuid::new_v4().simple()),
        kind: "erasure".to_string(),
        identifier_type: kind.to_string(),
        status: RequestStatus::Pending,
        step: "requested".to_string(),
        requested_at: Utc::now(),
        completed_at: None,
        outcome: serde_json::Value::Null,
        error: None,
    };
    let job = ErasureJob {
        id: request.id.clone(),
        identifiers,
    };
    write_job(&state.data_dir, &job).map_err(ApiError::internal)?;
    state
        .credentials
        .add_subject_request(&request, &job.identifiers, actor)?;
    // From here on, events for these identifiers are refused (or anonymised).
    state.ingestor.reload_suppression(&state.credentials)?;
    let running = tokio::spawn(run_erasure(state.clone(), job));
    Ok((request, running))
}

pub async fn list_requests(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<SubjectRequest>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(state.credentials.subject_requests()?))
}

pub async fn get_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SubjectRequest>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    let request = state.credentials.subject_request(&id)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no request `{id}`"),
        )
    })?;
    Ok(Json(request))
}

fn write_job(data: &FilePath, job: &ErasureJob) -> std::io::Result<()> {
    let directory = jobs_dir(data);
    std::fs::create_dir_all(&directory)?;
    let path = directory.join(format!("{}.json", job.id));
    crate::runtime::write_private_file(&path, &serde_json::to_vec(job)?)?;
    std::fs::File::open(&directory)?.sync_all()
}

/// Restarts the erasures a previous run did not complete.
pub fn resume_erasures(state: &AppState) -> std::io::Result<usize> {
    let directory = jobs_dir(&state.data_dir);
    let Ok(entries) = std::fs::read_dir(&directory) else {
        return Ok(0);
    };
    let mut resumed = 0;
    for entry in entries {
        let path = entry?.path();
        let job: ErasureJob = match std::fs::read(&path)
            .map_err(|error| error.to_string())
            .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|error| error.to_string()))
        {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "unreadable erasure job");
                continue;
            }
        };
        tokio::spawn(run_erasure(state.clone(), job));
        resumed += 1;
    }
    Ok(resumed)
}

async fn run_erasure(state: AppState, job: ErasureJob) {
    let Ok(Some(mut request)) = state.credentials.subject_request(&job.id) else {
        tracing::error!(request = job.id, "erasure job without its request");
        return;
    };
    request.status = RequestStatus::Running;
    request.error = None;
    match erase(&state, &job, &mut request).await {
        Ok(outcome) => {
            if let Err(error) =
                std::fs::remove_file(jobs_dir(&state.data_dir).join(format!("{}.json", job.id)))
            {
                tracing::error!(request = job.id, %error, "could not delete the erasure job file");
            }
            request.status = RequestStatus::Completed;
            request.step = "done".to_string();
            request.completed_at = Some(Utc::now());
            request.outcome = outcome;
        }
        Err(error) => {
            tracing::error!(request = job.id, error = %error.message, "erasure failed; retried at the next start");
            request.status = RequestStatus::Failed;
            request.error = Some(error.message);
        }
    }
    if let Err(error) = state.credentials.update_subject_request(&request) {
        tracing::error!(request = job.id, %error, "could not record the erasure's end");
    }
}

/// The steps of an erasure; each may run again after a crash.
async fn erase(
    state: &AppState,
    job: &ErasureJob,
    request: &mut SubjectRequest,
) -> Result<serde_json::Value, ApiError> {
    let step = |request: &mut SubjectRequest, step: &str| {
        request.step = step.to_string();
        state.credentials.update_subject_request(request)
    };
    step(request, "profiles")?;
    let mut profiles = 0;
    for (kind, value) in &job.identifiers {
        let profile_id = state
            .lookup(&state.identity.read(), kind, value)?
            .map(|profile| profile.id.clone());
        if let Some(profile_id) = profile_id {
            profiles += usize::from(state.identity.forget(&profile_id).is_some());
        }
    }
    step(request, "events")?;
    // Whatever was acknowledged before the suppression must reach the tables first; every
    // record in the write-ahead log up to `sealed` then lives in files that can be deleted.
    query::read_your_writes(state).await;
    let wal = &state.ingestor.wal;
    let sealed = wal.seal().await.map_err(ApiError::internal)?;
    state
        .store
        .wait_until_applied(sealed, std::time::Duration::from_secs(60))
        .await;
    let subject = Subject::new(&values(&job.identifiers));
    let (flushed, erased) = state.store.erase(&subject).await?;
    step(request, "write-ahead log")?;
    wal.release_through(flushed.persisted_lsn).await;
    // Commands run in order: once a second seal answers, the release has deleted its files.
    wal.seal().await.map_err(ApiError::internal)?;
    Ok(serde_json::json!({
        "profiles": profiles,
        "events": erased.events,
        "quarantined": erased.quarantined,
        "data_files_deleted": erased.files,
        "log_files_deleted": erased.log_files,
    }))
}
