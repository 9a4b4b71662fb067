//! `GET /v1/session`: who a token belongs to and what its role may do, so that the console shows
//! only what the signed-in person can use. The server still checks every call.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use silta_state::{Permission, Role};

use crate::{ApiError, AppState, auth};

#[derive(Serialize)]
pub struct Session {
    token_id: String,
    name: String,
    role: Role,
    permissions: Vec<Permission>,
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Session>, ApiError> {
    // Every role may read dashboards, so this asks for the least any token has.
    let token = auth::require(&state, &headers, Permission::Analytics)?;
    Ok(Json(Session {
        token_id: token.id,
        name: token.name,
        role: token.role,
        permissions: token.role.permissions(),
    }))
}
