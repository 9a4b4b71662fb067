//! What a tracking plan finds wrong with an event, and what a source does about it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::EventType;

/// The kinds of violation IT counts to tell a team what its sender gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// The event's name (or type) is not in the plan.
    UnplannedEvent,
    /// A required property is absent.
    MissingRequired,
    /// A property has another JSON type than planned.
    WrongType,
    /// A value is not one of the planned ones.
    EnumMismatch,
    /// A property the plan does not allow (`additionalProperties: false`).
    UnplannedProperty,
    /// A value breaks another rule of the schema (range, pattern, length, format).
    InvalidValue,
    /// A value looks like personal data (an email address, a phone number) in a field the plan
    /// does not classify as personal.
    PersonalData,
}

impl ViolationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::UnplannedEvent => "unplanned_event",
            ViolationKind::MissingRequired => "missing_required",
            ViolationKind::WrongType => "wrong_type",
            ViolationKind::EnumMismatch => "enum_mismatch",
            ViolationKind::UnplannedProperty => "unplanned_property",
            ViolationKind::InvalidValue => "invalid_value",
            ViolationKind::PersonalData => "personal_data",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One broken rule. The message never quotes the value sent, so that violations hold no
/// personal data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    /// Where, e.g. `properties.revenue` or `traits.email`; empty for the event as a whole.
    pub field: String,
    pub message: String,
}

/// What a source does with an event that breaks its tracking plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContractMode {
    /// Accept it and count the violations.
    #[default]
    Allow,
    /// Accept it, count the violations and keep them on the event (column `violations`).
    Flag,
    /// Keep it in quarantine with its violations, to be replayed once plan or sender is fixed.
    Block,
}

impl ContractMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractMode::Allow => "allow",
            ContractMode::Flag => "flag",
            ContractMode::Block => "block",
        }
    }

    /// What was done with an event under this mode, as recorded with its violations.
    pub fn action(self) -> &'static str {
        match self {
            ContractMode::Allow => "allowed",
            ContractMode::Flag => "flagged",
            ContractMode::Block => "blocked",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown contract mode `{0}`; expected allow, flag or block")]
pub struct UnknownContractMode(pub String);

impl FromStr for ContractMode {
    type Err = UnknownContractMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "allow" => Ok(ContractMode::Allow),
            "flag" => Ok(ContractMode::Flag),
            "block" => Ok(ContractMode::Block),
            other => Err(UnknownContractMode(other.to_string())),
        }
    }
}

/// The violations of one event, as counted in the `violations` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViolationReport {
    pub received_at: DateTime<Utc>,
    pub source_id: String,
    pub message_id: String,
    pub event_type: EventType,
    /// The track event's name, or the page, screen or group name.
    pub event: Option<String>,
    pub plan: String,
    pub plan_version: u32,
    pub mode: ContractMode,
    pub violations: Vec<Violation>,
}
