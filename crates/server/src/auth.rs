//! API tokens on every route other than ingestion and health: `Authorization: Bearer <token>`.

use std::net::SocketAddr;

use axum::http::{HeaderMap, header};
use silta_state::{Actor, Permission, Token};

use crate::{ApiError, AppState};

/// The token of a request, which must have a role that allows `permission`.
pub fn require(
    state: &AppState,
    headers: &HeaderMap,
    permission: Permission,
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
    if !token.role.allows(permission) {
        return Err(ApiError::forbidden(format!(
            "role `{}` may not use this endpoint",
            token.role
        )));
    }
    Ok(token)
}

/// Who makes a change, for the audit log: the token of a request with `permission`, and the
/// address it came from.
pub fn require_actor(
    state: &AppState,
    headers: &HeaderMap,
    address: SocketAddr,
    permission: Permission,
) -> Result<Actor, ApiError> {
    let token = require(state, headers, permission)?;
    Ok(Actor::Token {
        token_id: token.id,
        name: token.name,
        role: token.role,
        address: Some(address.ip().to_string()),
    })
}
