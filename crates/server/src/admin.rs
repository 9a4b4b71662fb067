//! Sources, write keys, tokens and the audit log over HTTP (admin role). Every change is
//! recorded in the audit log with the token that made it and the address it came from.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use silta_model::Channel;
use silta_state::{
    AuditEntry, MAX_AUDIT_PAGE, NewSecret, Permission, Role, Source, SourcePolicies, Token,
    WriteKey,
};

use crate::{ApiError, AppState, auth};

const MAX_NAME_CHARS: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    name: String,
    channel: Channel,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    role: Role,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// Entries after this sequence number.
    #[serde(default)]
    after: u64,
    #[serde(default = "default_audit_limit")]
    limit: usize,
}

fn default_audit_limit() -> usize {
    100
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("name exceeds {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

pub async fn list_sources(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Source>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(state.credentials.sources()?))
}

pub async fn add_source(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<NewSource>, JsonRejection>,
) -> Result<(StatusCode, Json<NewSecret<Source>>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(request) = request?;
    if request.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "name must not be empty",
        ));
    }
    check_name(&request.name)?;
    let created = state
        .credentials
        .add_source(request.name.trim(), request.channel, &actor)?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PATCH /v1/sources/{id}`: what the source does with events without analytics consent
/// (`consent_policy`) and with bots' events (`bot_policy`).
pub async fn update_source(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(source_id): Path<String>,
    request: Result<Json<SourcePolicies>, JsonRejection>,
) -> Result<Json<Source>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(policies) = request?;
    if policies == SourcePolicies::default() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "name `consent_policy` or `bot_policy`",
        ));
    }
    let source = state
        .credentials
        .set_source_policies(&source_id, policies, &actor)?;
    Ok(Json(source))
}

pub async fn list_write_keys(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(source_id): Path<String>,
) -> Result<Json<Vec<WriteKey>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(state.credentials.write_keys(&source_id)?))
}

pub async fn add_write_key(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(source_id): Path<String>,
) -> Result<(StatusCode, Json<NewSecret<WriteKey>>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let created = state.credentials.add_write_key(&source_id, &actor)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn revoke_write_key(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((source_id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    state
        .credentials
        .revoke_write_key(&source_id, &key_id, &actor)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<Token>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(state.credentials.tokens()?))
}

pub async fn add_token(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Result<Json<NewToken>, JsonRejection>,
) -> Result<(StatusCode, Json<NewSecret<Token>>), ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    let Json(request) = request?;
    check_name(&request.name)?;
    let created = state
        .credentials
        .add_token(request.role, &request.name, &actor)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn revoke_token(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    state.credentials.revoke_token(&token_id, &actor)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rotate_token(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token_id): Path<String>,
) -> Result<Json<NewSecret<Token>>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::Administer)?;
    Ok(Json(state.credentials.rotate_token(&token_id, &actor)?))
}

/// The configuration the server runs with, without secrets: what the console shows IT.
pub async fn configuration(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    Ok(Json(state.configuration.as_ref().clone()))
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    page: Result<Query<AuditPage>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    auth::require(&state, &headers, Permission::Administer)?;
    let Query(page) = page?;
    if page.limit == 0 || page.limit > MAX_AUDIT_PAGE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("limit must be between 1 and {MAX_AUDIT_PAGE}"),
        ));
    }
    Ok(Json(state.credentials.audit(page.after, page.limit)?))
}
