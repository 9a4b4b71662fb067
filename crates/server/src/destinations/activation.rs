//! Audience activation: a profile entering or leaving an audience becomes an `Audience Entered`
//! or `Audience Exited` track event (the convention Segment's audiences follow) for every
//! destination that activates the audience. The event names the member by their user and
//! anonymous ids and carries their normalised email and phone in `context.traits`, which a
//! mapping can hash for ad platforms' customer lists.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use silta_identity::IdentityGraph;
use silta_model::{Channel, Event, EventType};

use crate::consent::SILTA_SOURCE;

/// Why a member's event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Entered,
    Exited,
    /// A full sync: every current member, as if they had just entered.
    Synced,
}

impl Change {
    fn event_name(self) -> &'static str {
        match self {
            Change::Entered | Change::Synced => "Audience Entered",
            Change::Exited => "Audience Exited",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Change::Entered => "entered",
            Change::Exited => "exited",
            Change::Synced => "synced",
        }
    }
}

/// The event of `profile_id`'s `change` in `audience`, or None when the profile is gone
/// (erased, or unknown to the graph).
pub fn membership_event(
    graph: &IdentityGraph,
    audience: &str,
    profile_id: &str,
    change: Change,
    at: DateTime<Utc>,
) -> Option<Event> {
    let profile = graph.profile(profile_id)?;
    let identifiers = graph.identifiers_of(profile);
    let first = |kind: &str| {
        identifiers
            .iter()
            .find(|(identifier_type, _)| identifier_type == kind)
            .map(|(_, value)| value.clone())
    };
    let (user_id, anonymous_id) = (first("user_id"), first("anonymous_id"));
    if user_id.is_none() && anonymous_id.is_none() {
        return None;
    }
    let mut traits = Map::new();
    for kind in ["email", "phone"] {
        if let Some(value) = first(kind) {
            traits.insert(kind.to_string(), Value::String(value));
        }
    }
    Some(Event {
        // The same change of the same member at the same refresh keeps its id on every retry.
        message_id: format!(
            "audience-{}-{audience}-{}-{}",
            change.tag(),
            profile.id,
            at.timestamp_micros()
        ),
        event_type: EventType::Track,
        event: Some(change.event_name().to_string()),
        user_id,
        anonymous_id,
        timestamp: at,
        received_at: at,
        source_id: SILTA_SOURCE.to_string(),
        channel: Channel::Server,
        properties: json!({"audience_key": audience, "profile_id": profile.id}).to_string(),
        traits: "{}".to_string(),
        integrations: "{}".to_string(),
        context: json!({"traits": traits, "silta": {"profile_id": profile.id}}).to_string(),
        ..Event::default()
    })
}
