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

    /// Whether this role may do what `permission` covers.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Marketer => matches!(
                permission,
                ReadProfiles
                    | ManageConsent
                    | Experiments
                    | Sql
                    | Analytics
                    | Audiences
                    | ManageSpend
                    | ReadContracts
                    | ProposePlans
                    | MediaPlans
            ),
            Role::Analyst => matches!(permission, Sql | Analytics | ReadContracts),
            Role::Viewer => matches!(permission, Analytics),
        }
    }
}

/// What an endpoint needs. Every route other than ingestion and health names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Sources, write keys, tokens, the audit log: IT's side (admins only).
    Administer,
    /// Customer profiles: identifiers, traits, consent, timelines (admins and marketers).
    ReadProfiles,
    /// Recording a person's consent on their behalf, e.g. from a form or a call centre
    /// (admins and marketers).
    ManageConsent,
    /// Experiments: definitions and assignments (admins and marketers).
    Experiments,
    /// Read-only SQL over the event store (admins, marketers and analysts).
    Sql,
    /// Aggregate analyses: funnels, retention, web analytics, attribution (every role).
    Analytics,
    /// Audiences: definitions, previews and their members (admins and marketers).
    Audiences,
    /// The ad spend table (admins and marketers).
    ManageSpend,
    /// Tracking plans, their versions and diffs, and violation counts (admins, marketers and
    /// analysts). Approving plans, attaching them to sources and the quarantine are IT's
    /// ([`Permission::Administer`]).
    ReadContracts,
    /// Proposing tracking plan versions and drafting plans (admins and marketers).
    ProposePlans,
    /// Fitting and deleting media-mix models, budget plans and scenarios (admins and
    /// marketers). Reading fitted models is [`Permission::Analytics`].
    MediaPlans,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::Administer,
        Permission::ReadProfiles,
        Permission::ManageConsent,
        Permission::Experiments,
        Permission::Sql,
        Permission::Analytics,
        Permission::Audiences,
        Permission::ManageSpend,
        Permission::ReadContracts,
        Permission::ProposePlans,
        Permission::MediaPlans,
    ];
}

impl Role {
    /// Everything this role may do.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL
            .into_iter()
            .filter(|permission| self.allows(*permission))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::Permission;

    /// `GET /v1/session` reports a role's permissions from `Permission::ALL`.
    #[test]
    fn every_permission_is_listed() {
        for permission in Permission::ALL {
            // Exhaustive: a new permission fails to compile here until it is listed.
            match permission {
                Permission::Administer
                | Permission::ReadProfiles
                | Permission::ManageConsent
                | Permission::Experiments
                | Permission::Sql
                | Permission::Analytics
                | Permission::Audiences
                | Permission::ManageSpend
                | Permission::ReadContracts
                | Permission::ProposePlans
                | Permission::MediaPlans => {}
            }
        }
        for permission in Permission::ALL {
            let listed = Permission::ALL.iter().filter(|other| **other == permission);
            assert_eq!(listed.count(), 1, "{permission:?} is listed once");
        }
    }
}
