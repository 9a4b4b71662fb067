//! A tracking plan: the events a company agrees to send, their properties as JSON Schema, who
//! owns them and which fields hold personal data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use silta_model::EventType;

/// The data contract between the teams that send events and the teams that use them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingPlan {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The team or person answerable for events that name no owner of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default)]
    pub events: Vec<PlannedEvent>,
}

/// One planned event: a track event by name, identify traits, or the properties of pages,
/// screens or groups (by name, or of every one when the name is left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedEvent {
    #[serde(rename = "type", default)]
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// JSON Schema (draft 2020-12) of `properties` (track, page, screen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Value>,
    /// JSON Schema (draft 2020-12) of `traits` (identify, group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traits: Option<Value>,
    /// Per field (a dotted path inside properties or traits): is it personal data, of which
    /// kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub classification: BTreeMap<String, Classification>,
}

impl PlannedEvent {
    /// How people name it: `track "Order Completed"`, `identify`, `page "Checkout"`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{} \"{name}\"", self.event_type),
            None => self.event_type.to_string(),
        }
    }

    /// The schema this event's payload is checked against, and the payload's field name.
    pub fn payload_schema(&self) -> (&'static str, Option<&Value>) {
        match self.event_type {
            EventType::Identify | EventType::Group => ("traits", self.traits.as_ref()),
            _ => ("properties", self.properties.as_ref()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classification {
    pub personal: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
}

/// What kind of data a field holds, in the terms a data-protection officer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Contact,
    Identifier,
    Financial,
    Behavioural,
    Location,
    Demographic,
    Technical,
    /// Special categories (GDPR article 9): health, beliefs, origin and the like.
    Special,
}
