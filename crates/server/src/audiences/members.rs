//! Who is in an audience: the members as JSON or CSV, and the entries and exits over time.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use silta_state::{MembershipChange, Permission};

use super::not_found;
use crate::output::{FormatQuery, Tabular, respond};
use crate::{ApiError, AppState, auth};

#[derive(Debug, Serialize)]
pub struct Member {
    pub profile_id: String,
    pub entered_at: DateTime<Utc>,
}

/// `GET /v1/audiences/{key}/members?format=json|csv`: the members as of the last refresh.
pub async fn export(
    State(state): State<AppState>,
    Path(key): Path<String>,
    options: Result<Query<FormatQuery>, QueryRejection>,
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
    respond(Members(members), options.format)
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Members(Vec<Member>);

impl Tabular for Members {
    fn header(&self) -> Vec<&'static str> {
        vec!["profile_id", "entered_at"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|member| vec![member.profile_id.clone(), member.entered_at.to_rfc3339()])
            .collect()
    }
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
