//! `PUT /v1/profiles/{type}/{value}/consent`: recording a person's consent on their behalf
//! (a sign-up form, a call centre, a preference centre). The answer travels as an identify
//! event through the write-ahead log like any other, so it is durable, replayed by identity
//! rebuilds and kept in the consent history with the event that carried it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use silta_model::{Channel, Event, EventType};
use silta_state::{Actor, Permission};

use crate::profiles::ProfileView;
use crate::{ApiError, AppState, auth, query};

/// The source id of events Silta records itself.
pub const SILTA_SOURCE: &str = "silta";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// Purpose → granted.
    purposes: BTreeMap<String, bool>,
}

fn invalid(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

pub async fn set_consent(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    Path((kind, value)): Path<(String, String)>,
    headers: HeaderMap,
    request: Result<Json<ConsentRequest>, JsonRejection>,
) -> Result<Json<ProfileView>, ApiError> {
    let actor = auth::require_actor(&state, &headers, address, Permission::ManageConsent)?;
    let Json(request) = request?;
    if request.purposes.is_empty() {
        return Err(invalid(
            "invalid_request",
            "`purposes` names no purpose".to_string(),
        ));
    }
    let recorded = {
        let graph = state.identity.read();
        for purpose in request.purposes.keys() {
            graph
                .config()
                .consent
                .check(purpose)
                .map_err(|error| invalid("unknown_purpose", error.to_string()))?;
        }
        // The identifier must be one a lookup accepts; the person need not be known yet. A
        // person known by the pseudonym of the value is recorded under the pseudonym, so the
        // clear value does not reach the log where fields are pseudonymised.
        state
            .resolve(&graph, &kind, &value)?
            .map_or_else(|| value.clone(), |(stored, _)| stored)
    };
    let event = consent_event(&kind, &recorded, &request.purposes, &actor);
    state.ingestor.record(event).await?;
    query::read_your_writes(&state).await;
    let graph = state.identity.read();
    let profile = state
        .lookup(&graph, &kind, &recorded)?
        .ok_or_else(|| ApiError::internal("a recorded consent event made no profile"))?;
    Ok(Json(ProfileView::of(&graph, profile)))
}

/// An identify event that carries only the identifier and the answers.
pub(crate) fn consent_event(
    kind: &str,
    value: &str,
    purposes: &BTreeMap<String, bool>,
    actor: &Actor,
) -> Event {
    let now = Utc::now();
    let recorded_by = match actor {
        Actor::Token { token_id, .. } => token_id.as_str(),
        Actor::Local { .. } | Actor::System => "silta",
    };
    Event {
        message_id: format!("consent-{}", uuid::Uuid::new_v4()),
        event_type: EventType::Identify,
        timestamp: now,
        received_at: now,
        source_id: SILTA_SOURCE.to_string(),
        channel: Channel::Server,
        properties: "{}".to_string(),
        traits: "{}".to_string(),
        integrations: "{}".to_string(),
        context: json!({
            "consent": {"categoryPreferences": purposes},
            "externalIds": [{"type": kind, "id": value}],
            "silta": {"recorded_by": recorded_by},
        })
        .to_string(),
        ..Event::default()
    }
}
