//! Who is in an audience: the members as JSON or CSV, and the entries and exits over time.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use silta_state::{MembershipChange, Permission};

use super::not_found;
use crate::{ApiError, AppState, auth};

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(default)]
    format: Format,
}

#[derive(Debug, Serialize)]
pub struct Member {
    pub profile_id: String,
    pub entered_at: DateTime<Utc>,
}

/// `GET /v1/audiences/{key}/members?format=json|csv`: the members as of the last refresh.
pub async fn export(
    State(state): State<AppState>,
    Path(key): Path<String>,
    options: Result<Query<ExportQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    auth::require(&state, &headers, Permission::Audiences)?;
    let Query(options) = options?;
    let audience = state
        .credentials
        .audience(&key)?
        .ok_or_else(|| not_found(&key))?;
    let stored = state.credentials.audience_members(&key)?;
    // Consent withdrawn since the last refresh takes effect at once.
    let members: Vec<Member> = {
        let graph = state.identity.read();
        stored
            .into_iter()
            .filter(|(profile_id, _)| {
                audience.purpose.as_deref().is_none_or(|purpose| {
                    graph
                        .profile(profile_id)
                        .is_some_and(|profile| profile.consent.granted(purpose))
                })
            })
            .map(|(profile_id, entered_at)| Member {
                profile_id,
                entered_at,
            })
            .collect()
    };
    Ok(match options.format {
        Format::Json => Json(members).into_response(),
        Format::Csv => {
            let mut csv = String::from("profile_id,entered_at\n");
            for member in &members {
                // Profile ids are UUIDs and times RFC 3339: neither needs quoting.
                csv.push_str(&format!(
                    "{},{}\n",
                    member.profile_id,
                    member.entered_at.to_rfc3339()
                ));
            }
            let mut response = csv.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            response
        }
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// Only changes at or after this time.
    #[serde(default)]
    since: Option<DateTime<Utc>>,
}

/// `GET /v1/audiences/{key}/changes?since=`: who entered and who left, oldest first.
pub async fn changes(
    State(state): State<AppState>,
    Path(key): Path<String>,
    options: Result<Query<ChangesQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Vec<MembershipChange>>, ApiError> {
    auth::require(&state, &headers, Permission::Audiences)?;
    let Query(options) = options?;
    if state.credentials.audience(&key)?.is_none() {
        return Err(not_found(&key));
    }
    let since = options.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    Ok(Json(state.credentials.audience_changes(&key, since)?))
}
