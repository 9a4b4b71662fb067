//! Managing destinations, for the HTTP routes and the CLI alike: configure, show with their
//! delivery figures, send a test event, inspect and replay dead letters.

use chrono::Utc;
use serde_json::{Value, json};
use silta_destinations::{Destination, DestinationSpec, Sender, Target, message_for, segment_json};
use silta_model::{Channel, Event, EventType};
use silta_state::{Actor, Change};

use crate::consent::SILTA_SOURCE;
use crate::destinations::activation;
use crate::{ApiError, AppState};

/// Dead letters one request lists at most.
pub const MAX_DEAD_LETTERS_PAGE: usize = 1000;

impl From<silta_destinations::OutboxError> for ApiError {
    fn from(error: silta_destinations::OutboxError) -> Self {
        ApiError::internal(error)
    }
}

/// A destination as the API shows it: its configuration, with its delivery figures.
fn view(state: &AppState, destination: &Destination) -> Result<Value, ApiError> {
    let mut shown = json!(destination.spec);
    shown["id"] = json!(destination.id);
    shown["created_at"] = json!(destination.created_at);
    shown["stats"] = json!(state.destinations.stats(&destination.id)?);
    Ok(shown)
}

fn found(state: &AppState, id: &str) -> Result<Destination, ApiError> {
    state
        .credentials
        .destination(id)?
        .ok_or_else(|| ApiError::not_found(format!("no destination `{id}`")))
}

fn validated(state: &AppState, spec: &DestinationSpec) -> Result<(), ApiError> {
    let purposes = state.identity.read().config().consent.purposes.clone();
    spec.validate(&purposes, &state.destination_hosts)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    if matches!(spec.target, Target::Email { .. }) && state.public_url.is_none() {
        return Err(ApiError::bad_request(
            "email destinations need `public_url` in the configuration: their unsubscribe links point there",
        ));
    }
    for (field, keys) in [
        ("filter.audiences", &spec.filter.audiences),
        ("activate", &spec.activate),
    ] {
        for key in keys {
            if state.credentials.audience(key)?.is_none() {
                return Err(ApiError::bad_request(format!(
                    "{field} names `{key}`, which is no audience"
                )));
            }
        }
    }
    Ok(())
}

pub fn create_destination(
    state: &AppState,
    spec: DestinationSpec,
    actor: &Actor,
) -> Result<Value, ApiError> {
    validated(state, &spec)?;
    let destination = Destination {
        id: format!("dst_{}", uuid::Uuid::new_v4().simple()),
        created_at: Utc::now(),
        spec,
    };
    state.credentials.put_destination(&destination, actor)?;
    state.destinations.install(destination.clone());
    view(state, &destination)
}

pub fn replace_destination(
    state: &AppState,
    id: &str,
    spec: DestinationSpec,
    actor: &Actor,
) -> Result<Value, ApiError> {
    validated(state, &spec)?;
    let destination = Destination {
        spec,
        ..found(state, id)?
    };
    state.credentials.put_destination(&destination, actor)?;
    state.destinations.install(destination.clone());
    view(state, &destination)
}

pub fn list_destinations(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let destinations = state.credentials.destinations()?;
    destinations
        .iter()
        .map(|destination| view(state, destination))
        .collect()
}

pub fn show_destination(state: &AppState, id: &str) -> Result<Value, ApiError> {
    view(state, &found(state, id)?)
}

pub fn delete_destination(state: &AppState, id: &str, actor: &Actor) -> Result<(), ApiError> {
    state.credentials.delete_destination(id, actor)?;
    state.destinations.remove(id)?;
    Ok(())
}

/// Sends one sample event now, outside the queue, and answers with what the receiver said.
pub async fn test_destination(state: &AppState, id: &str) -> Result<Value, ApiError> {
    let destination = found(state, id)?;
    let now = Utc::now();
    let sample = Event {
        message_id: format!("test-{}", uuid::Uuid::new_v4()),
        event_type: EventType::Track,
        event: Some("Silta Test Delivery".to_string()),
        user_id: Some("silta-test-user".to_string()),
        timestamp: now,
        received_at: now,
        source_id: SILTA_SOURCE.to_string(),
        channel: Channel::Server,
        properties: json!({"test": true}).to_string(),
        context: "{}".to_string(),
        ..Event::default()
    };
    let sender = Sender::new(&destination.spec.target, &destination.spec.delivery)
        .map_err(ApiError::internal)?;
    let mut message = message_for(&destination, &sample);
    if let Target::Email { from, .. } = &destination.spec.target {
        // A test email goes to the sender's own address, with a link that withdraws nothing.
        let address = from
            .rsplit_once('<')
            .map_or(from.as_str(), |(_, address)| address.trim_end_matches('>'));
        message.1["recipient"] = json!({
            "email": address,
            "unsubscribe_url": format!(
                "{}/v1/unsubscribe/test",
                state.public_url.as_deref().unwrap_or_default().trim_end_matches('/')
            ),
        });
    }
    Ok(match sender.send(std::slice::from_ref(&message)).await {
        Ok(attempt) => json!({"delivered": true, "attempt": attempt, "message": message.1}),
        Err(failure) => json!({"delivered": false, "failure": failure, "message": message.1}),
    })
}

/// A full sync: every current member of each audience the destination activates is queued
/// as an `Audience Entered` event.
pub fn sync_destination(state: &AppState, id: &str, actor: &Actor) -> Result<Value, ApiError> {
    let destination = found(state, id)?;
    if !destination.spec.enabled {
        return Err(ApiError::bad_request(format!(
            "destination `{id}` is disabled"
        )));
    }
    if destination.spec.activate.is_empty() {
        return Err(ApiError::bad_request(format!(
            "destination `{id}` activates no audience"
        )));
    }
    let now = Utc::now();
    let mut queued = serde_json::Map::new();
    for key in &destination.spec.activate {
        let members = state.credentials.audience_members(key)?;
        let changes: Vec<(&str, activation::Change)> = members
            .iter()
            .map(|(profile_id, _)| (profile_id.as_str(), activation::Change::Synced))
            .collect();
        let count = state
            .destinations
            .activate(&state.identity, key, &changes, now, Some(id))?;
        queued.insert(key.clone(), json!(count));
    }
    state.credentials.record(Change {
        actor,
        action: "destination.synced",
        target: id,
        detail: json!({"queued": queued}),
    })?;
    Ok(json!({"queued": queued}))
}

/// The oldest `limit` dead letters, each with its event in the Segment spec's JSON.
pub fn dead_letters(state: &AppState, id: &str, limit: usize) -> Result<Value, ApiError> {
    found(state, id)?;
    let letters = state
        .destinations
        .outbox()
        .dead(id, limit.min(MAX_DEAD_LETTERS_PAGE))?;
    let letters: Vec<Value> = letters
        .into_iter()
        .map(|(seq, letter)| {
            json!({
                "seq": seq,
                "reason": letter.reason,
                "attempts": letter.attempts,
                "failed_at": letter.failed_at,
                "event": segment_json(&letter.event),
            })
        })
        .collect();
    Ok(json!({"dead_letters": letters}))
}

/// Every dead letter goes back to the end of the queue.
pub fn replay_dead_letters(state: &AppState, id: &str, actor: &Actor) -> Result<Value, ApiError> {
    found(state, id)?;
    let replayed = state.destinations.outbox().replay(id)?;
    state.credentials.record(Change {
        actor,
        action: "destination.replayed",
        target: id,
        detail: json!({"events": replayed}),
    })?;
    state.destinations.wake(id);
    Ok(json!({"replayed": replayed}))
}
