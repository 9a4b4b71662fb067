//! API tokens on every route other than ingestion and health: `Authorization: Bearer <token>`.

use axum::http::{HeaderMap, header};
use silta_state::{Role, Token};

use crate::{ApiError, AppState};

/// The token of a request, which must have a role that `allowed` accepts.
pub fn require(
    state: &AppState,
    headers: &HeaderMap,
    allowed: fn(Role) -> bool,
) -> Result<Token, ApiError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("an api token is required: `Authorization: Bearer <token>`")
        })?;
    let token = state
        .credentials
        .token(secret)?
        .ok_or_else(|| ApiError::unauthorized("unknown api token"))?;
    if !allowed(token.role) {
        return Err(ApiError::forbidden(format!(
            "role `{}` may not use this endpoint",
            token.role
        )));
    }
    Ok(token)
}
