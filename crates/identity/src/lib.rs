//! Identity resolution: typed identifiers from every event, linked into one profile per person
//! within per-type limits, with traits, computed traits and consent; served to lookups and SQL.

mod consent;
mod declared;
mod extract;
mod graph;
mod identifier;
mod profile;
mod service;
mod tables;

pub use consent::{Consent, ConsentChange, ConsentState, MAX_CONSENT_HISTORY};
pub use declared::{Aggregate, DeclaredTrait};
pub use extract::identifier_keys;
pub use graph::{IdentityGraph, LookupError, Merge, Profile, Refusal};
pub use identifier::{BUILT_IN_TYPES, ConfigError, IdentityConfig};
pub use profile::{ComputedTraits, PageVisit, Touch, TraitValue, Traits};
pub use service::{Identity, RebuildReport};
pub use tables::{Columns, GraphTable, SqlTables};
