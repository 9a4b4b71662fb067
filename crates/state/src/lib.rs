//! `<data>/state.redb`: sources with their write keys, API tokens with their roles, tracking
//! plans and their versions, data-subject requests, the suppression list, and the audit log of
//! every change to them. Keys, tokens and suppressed identifiers are stored only as SHA-256
//! hashes; keys and tokens are shown once.

mod audiences;
mod audit;
mod credentials;
mod destinations;
mod experiments;
mod plans;
mod records;
mod roles;
mod subjects;

pub use audiences::{Audience, MembershipChange, Refreshed};
pub use audit::{Actor, AuditEntry, Change, MAX_AUDIT_PAGE};
pub use credentials::{
    NewSecret, Source, SourceContract, SourcePolicies, StateError, StateStore, Token, WriteKey,
};
pub use plans::{PlanHead, PlanStatus, PlanVersion, Replayed};
pub use roles::{Permission, Role, UnknownRole};
pub use subjects::{RequestStatus, SubjectRequest, Suppression};
