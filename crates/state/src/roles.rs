use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What an API token may do. Write keys are separate: they can only ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// IT: sources, keys, policies, everything.
    Admin,
    /// Audiences, experiments, media plans; reads analytics and profiles.
    Marketer,
    /// Read-only analytics and SQL.
    Analyst,
    /// Dashboards only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Marketer => "marketer",
            Role::Analyst => "analyst",
            Role::Viewer => "viewer",
        }
    }

    /// SQL over the event store.
    pub fn can_query(self) -> bool {
        matches!(self, Role::Admin | Role::Marketer | Role::Analyst)
    }

    /// Customer profiles: identifiers, traits, timelines.
    pub fn can_read_profiles(self) -> bool {
        matches!(self, Role::Admin | Role::Marketer | Role::Analyst)
    }

    /// Sources, write keys and tokens.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role `{0}`; expected admin, marketer, analyst or viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Role::Admin),
            "marketer" => Ok(Role::Marketer),
            "analyst" => Ok(Role::Analyst),
            "viewer" => Ok(Role::Viewer),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}
