use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Channel, Violation, ViolationReport};

/// The six Segment call types.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    #[default]
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Identify => "identify",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown event type `{0}`; expected track, identify, page, screen, group or alias")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "track" => Ok(EventType::Track),
            "identify" => Ok(EventType::Identify),
            "page" => Ok(EventType::Page),
            "screen" => Ok(EventType::Screen),
            "group" => Ok(EventType::Group),
            "alias" => Ok(EventType::Alias),
            other => Err(UnknownEventType(other.to_string())),
        }
    }
}

/// One normalised event, as stored in the `events` table. Free-form parts (properties, traits,
/// context, integrations) are kept as JSON text so that they are stored exactly as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub message_id: String,
    pub event_type: EventType,
    /// The event name of a track call.
    pub event: Option<String>,
    /// The page or screen name, or the group name.
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub group_id: Option<String>,
    pub previous_id: Option<String>,
    /// When the event happened, corrected for client clock skew.
    pub timestamp: DateTime<Utc>,
    pub original_timestamp: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub source_id: String,
    pub channel: Channel,
    pub page_url: Option<String>,
    pub page_path: Option<String>,
    pub page_referrer: Option<String>,
    pub page_title: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub revenue: Option<f64>,
    pub currency: Option<String>,
    pub properties: String,
    pub traits: String,
    pub context: String,
    pub integrations: String,
    /// Flagged at collection: a crawler's user agent, a headless browser or a bot's rate.
    #[serde(default)]
    pub is_bot: bool,
    /// What the source's tracking plan found wrong, kept when the source flags violations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

/// An event (or a whole request body) that was refused, kept with its reason in the `quarantine`
/// table so that nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub received_at: DateTime<Utc>,
    /// Empty when the write key was unknown.
    pub source_id: String,
    pub message_id: Option<String>,
    pub reason: String,
    /// The raw JSON text as it arrived (cut to the configured size limit); for an event its
    /// tracking plan blocked, the normalised event (JSON of [`Event`]), which a replay
    /// processes again.
    pub payload: String,
    /// What the tracking plan found wrong, when the plan blocked the event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

/// What one write-ahead-log record holds: an accepted event, a refused one, or the
/// violations of one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Ingested {
    Event(Box<Event>),
    Rejected(Rejected),
    /// The tracking-plan violations of one event, counted whatever the source did with it.
    Violations(ViolationReport),
}
