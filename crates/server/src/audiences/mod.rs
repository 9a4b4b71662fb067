//! Audiences over HTTP (admins and marketers): definitions in the JSON or text form, a size
//! preview computed on demand, membership kept current by refreshes that record who entered
//! and who left, exports, and the audiences of one profile.

mod compile;
mod members;
mod tables;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use silta_analytics::audience::{self, Condition};
use silta_state::{Actor, Audience, Permission, Refreshed};

use crate::analytics::scan::{self, Explain};
use crate::destinations::activation::Change;
use crate::{ApiError, AppState, auth, query};

pub use members::{changes, export};
pub use tables::AudienceTables;

/// Audience references followed at most when expanding a definition.
const MAX_REFERENCE_DEPTH: usize = 8;
/// Profile ids a preview shows.
const PREVIEW_SAMPLE: usize = 10;
const MAX_KEY_CHARS: usize = 100;

/// A definition as a client sends it: the tree or the text form, exactly one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Only people who granted consent for this purpose are members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default)]
    pub explain: bool,
}

#[derive(Debug, Serialize)]
pub struct AudienceView {
    #[serde(flatten)]
    pub audience: Audience,
    /// The definition in the text form.
    pub text: String,
    pub members: usize,
}

#[derive(Debug, Serialize)]
pub struct Preview {
    /// The definition in both forms, whichever was sent: the console's builder and text
    /// editor stay in step through them.
    pub definition: Condition,
    pub text: String,
    pub size: usize,
    pub sample: Vec<String>,
    pub elapsed_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

fn not_found(key: &str) -> ApiError {
    ApiError::not_found(format!("no audience `{key}`"))
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let well_formed = !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if well_formed {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "an audience key is 1 to {MAX_KEY_CHARS} of a-z, 0-9, '_' and '-'"
    )))
}

impl DefinitionRequest {
    /// The condition tree, from whichever form was sent, validated.
    fn condition(&self) -> Result<Condition, ApiError> {
        let condition = match (&self.definition, &self.text) {
            (Some(tree), None) => {
                tree.validate()
                    .map_err(|error| ApiError::bad_request(format!("definition: {error}")))?;
                tree.clone()
            }
            (None, Some(text)) => audience::parse(text).map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_definition",
                    error.to_string(),
                )
            })?,
            _ => {
                return Err(ApiError::bad_request(
                    "send the definition either as 'definition' (the JSON tree) or as 'text'",
                ));
            }
        };
        Ok(condition)
    }
}

/// Checks purposes against the consent configuration.
fn check_purposes(
    state: &AppState,
    condition: &Condition,
    purpose: Option<&str>,
) -> Result<(), ApiError> {
    let graph = state.identity.read();
    let consent = &graph.config().consent;
    for purpose in condition.purposes().into_iter().chain(purpose) {
        consent.check(purpose).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_purpose",
                error.to_string(),
            )
        })?;
    }
    Ok(())
}

/// The condition with every `in_audience` replaced by that audience's definition (and its
/// purpose), refusing unknown audiences and cycles.
fn expand(
    state: &AppState,
    condition: &Condition,
    path: &mut Vec<String>,
) -> Result<Condition, ApiError> {
    Ok(match condition {
        Condition::And(children) => Condition::And(
            children
                .iter()
                .map(|child| expand(state, child, path))
                .collect::<Result<_, _>>()?,
        ),
        Condition::Or(children) => Condition::Or(
            children
                .iter()
                .map(|child| expand(state, child, path))
                .collect::<Result<_, _>>()?,
        ),
        Condition::Not(child) => Condition::Not(Box::new(expand(state, child, path)?)),
        Condition::InAudience(key) => {
            if path.contains(key) {
                return Err(ApiError::bad_request(format!(
                    "audiences refer to each other in a cycle: {} -> {key}",
                    path.join(" -> ")
                )));
            }
            if path.len() >= MAX_REFERENCE_DEPTH {
                return Err(ApiError::bad_request(format!(
                    "audience references nest deeper than {MAX_REFERENCE_DEPTH}"
                )));
            }
            let referenced = state.credentials.audience(key)?.ok_or_else(|| {
                ApiError::bad_request(format!("the definition refers to unknown audience `{key}`"))
            })?;
            path.push(key.clone());
            let expanded = expand(state, &with_purpose(&referenced), path)?;
            path.pop();
            expanded
        }
        leaf => leaf.clone(),
    })
}

/// An audience's definition with its purpose's consent required.
fn with_purpose(audience: &Audience) -> Condition {
    match &audience.purpose {
        Some(purpose) => Condition::And(vec![
            audience.definition.clone(),
            Condition::Consent(purpose.clone()),
        ]),
        None => audience.definition.clone(),
    }
}

/// The profile ids an audience (expanded, with its purpose) selects now, and with `explain`
/// the plan as SQL.
async fn evaluate(
    state: &AppState,
    condition: &Condition,
    key: Option<&str>,
    explain: bool,
) -> Result<(BTreeSet<String>, Option<String>), ApiError> {
    let mut path: Vec<String> = key.map(str::to_string).into_iter().collect();
    let expanded = expand(state, condition, &mut path)?;
    query::read_your_writes(state).await;
    let context = state.store.session(&state.query_limits)?;
    let frame = compile::members(&context, &expanded, Utc::now().timestamp_micros()).await?;
    let sql = explain.then(|| scan::plan_text(&frame));
    let mut members = BTreeSet::new();
    scan::stream(state, frame, |batch| {
        let ids = scan::texts(&batch, 0)?;
        members.extend(ids.iter().flatten().map(str::to_string));
        Ok(())
    })
    .await?;
    Ok((members, sql))
}

fn view(state: &AppState, audience: Audience) -> Result<AudienceView, ApiError> {
    let members = state.credentials.audience_member_count(&audience.key)?;
    Ok(AudienceView {
        text: audience.definition.to_string(),
        audience,
        members,
    })
}

/// `PUT /v1/audiences/{key}`: creates or replaces a definition and computes its members.
pub async fn put(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
    request: Result<Json<DefinitionRequest>, JsonRejection>,
) -> Result<Json<AudienceView>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Audiences)?;
    let Json(request) = request?;
    Ok(Json(save(&state, &key, &request, &actor).await?))
}

/// Stores a definition once it is valid, refers only to known audiences without a cycle,
/// and names configured purposes; then computes its members.
pub async fn save(
    state: &AppState,
    key: &str,
    request: &DefinitionRequest,
    actor: &Actor,
) -> Result<AudienceView, ApiError> {
    check_key(key)?;
    let definition = request.condition()?;
    check_purposes(state, &definition, request.purpose.as_deref())?;
    let now = Utc::now();
    let created_at = state
        .credentials
        .audience(key)?
        .map_or(now, |existing| existing.created_at);
    let audience = Audience {
        name: request.name.clone().unwrap_or_else(|| key.to_string()),
        key: key.to_string(),
        definition,
        purpose: request.purpose.clone(),
        created_at,
        updated_at: now,
    };
    let mut path = vec![key.to_string()];
    expand(state, &audience.definition, &mut path)?;
    state.credentials.put_audience(&audience, actor)?;
    refresh_one(state, &audience).await?;
    view(state, audience)
}

pub async fn get(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<AudienceView>, ApiError> {
    auth::require(&state, &headers, Permission::Audiences)?;
    let audience = state
        .credentials
        .audience(&key)?
        .ok_or_else(|| not_found(&key))?;
    Ok(Json(view(&state, audience)?))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<AudienceView>>, ApiError> {
    auth::require(&state, &headers, Permission::Audiences)?;
    let audiences = state.credentials.audiences()?;
    Ok(Json(
        audiences
            .into_iter()
            .map(|audience| view(&state, audience))
            .collect::<Result<_, _>>()?,
    ))
}

/// `DELETE /v1/audiences/{key}`, refused while another audience refers to it.
pub async fn delete(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Audiences)?;
    let referring: Vec<String> = state
        .credentials
        .audiences()?
        .into_iter()
        .filter(|other| {
            other
                .definition
                .referenced_audiences()
                .contains(&key.as_str())
        })
        .map(|other| other.key)
        .collect();
    if !referring.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "in_use",
            format!("audience `{key}` is used by {}", referring.join(", ")),
        ));
    }
    state.credentials.delete_audience(&key, &actor)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/audiences/preview`: the size of a definition now, without storing it.
pub async fn preview(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<DefinitionRequest>, JsonRejection>,
) -> Result<Json<Preview>, ApiError> {
    auth::require(&state, &headers, Permission::Audiences)?;
    let Json(request) = request?;
    Ok(Json(preview_definition(&state, &request).await?))
}

pub async fn preview_definition(
    state: &AppState,
    request: &DefinitionRequest,
) -> Result<Preview, ApiError> {
    let started = Instant::now();
    let definition = request.condition()?;
    check_purposes(state, &definition, request.purpose.as_deref())?;
    let condition = match &request.purpose {
        Some(purpose) => Condition::And(vec![
            definition.clone(),
            Condition::Consent(purpose.clone()),
        ]),
        None => definition.clone(),
    };
    let (members, sql) = evaluate(state, &condition, None, request.explain).await?;
    Ok(Preview {
        text: definition.to_string(),
        definition,
        size: members.len(),
        sample: members.iter().take(PREVIEW_SAMPLE).cloned().collect(),
        elapsed_ms: started.elapsed().as_millis(),
        explain: sql.map(|sql| Explain {
            sql: vec![sql],
            counting: "the profile ids the query returns are the members".to_string(),
        }),
    })
}

/// Recomputes the members of `audience`; entries and exits reach the destinations that
/// activate it before the new members are recorded.
async fn refresh_one(state: &AppState, audience: &Audience) -> Result<Refreshed, ApiError> {
    let (members, _) = evaluate(state, &with_purpose(audience), Some(&audience.key), false).await?;
    let at = Utc::now();
    let (entered, exited) = state
        .credentials
        .membership_changes(&audience.key, &members)?;
    let changes: Vec<(&str, Change)> = entered
        .iter()
        .map(|profile| (profile.as_str(), Change::Entered))
        .chain(
            exited
                .iter()
                .map(|profile| (profile.as_str(), Change::Exited)),
        )
        .collect();
    state
        .destinations
        .activate(&state.identity, &audience.key, &changes, at, None)?;
    Ok(state
        .credentials
        .refresh_members(&audience.key, &members, at)?)
}

/// `POST /v1/audiences/{key}/refresh`: recomputes the members now.
pub async fn refresh(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Refreshed>, ApiError> {
    auth::require(&state, &headers, Permission::Audiences)?;
    Ok(Json(refresh_audience(&state, &key).await?))
}

pub async fn refresh_audience(state: &AppState, key: &str) -> Result<Refreshed, ApiError> {
    let audience = state
        .credentials
        .audience(key)?
        .ok_or_else(|| not_found(key))?;
    refresh_one(state, &audience).await
}

/// Recomputes every audience's members (the schedule calls this).
pub async fn refresh_all(state: &AppState) -> Result<usize, ApiError> {
    let audiences = state.credentials.audiences()?;
    for audience in &audiences {
        let refreshed = refresh_one(state, audience).await?;
        tracing::info!(
            audience = %audience.key,
            members = refreshed.members,
            entered = refreshed.entered,
            exited = refreshed.exited,
            "audience refreshed"
        );
    }
    Ok(audiences.len())
}

/// Refreshes every audience every `minutes` (never with 0), the first time one period after
/// the start so that a restart does not recompute everything at once.
pub async fn run_schedule(state: AppState, minutes: u64) {
    if minutes == 0 {
        return;
    }
    let interval = std::time::Duration::from_secs(minutes * 60);
    loop {
        tokio::time::sleep(interval).await;
        if let Err(error) = refresh_all(&state).await {
            tracing::error!(error = %error.message, "audiences could not be refreshed");
        }
    }
}
