//! Sources, write keys and tokens over HTTP (admin role).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use silta_model::Channel;
use silta_state::{NewSecret, Role, Source, Token};

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
    auth::require(&state, &headers, Role::can_administer)?;
    Ok(Json(state.credentials.sources()?))
}

pub async fn add_source(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<NewSource>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<NewSecret<Source>>), ApiError> {
    auth::require(&state, &headers, Role::can_administer)?;
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
        .add_source(request.name.trim(), request.channel)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn add_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Json<NewToken>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<NewSecret<Token>>), ApiError> {
    auth::require(&state, &headers, Role::can_administer)?;
    let Json(request) = request?;
    check_name(&request.name)?;
    let created = state.credentials.add_token(request.role, &request.name)?;
    Ok((StatusCode::CREATED, Json(created)))
}
