//! Plain types shared by every Silta crate: the normalised event (Segment spec), channels,
//! quarantined events, consent and data-contract violations. No I/O lives here.

mod bots;
mod channel;
mod consent;
mod contract;
mod event;

pub use bots::{BotPolicy, UnknownBotPolicy};
pub use channel::{Channel, UnknownChannel};
pub use consent::{ANALYTICS, ConsentConfig, ConsentPolicy, UnknownConsentPolicy, UnknownPurpose};
pub use contract::{ContractMode, UnknownContractMode, Violation, ViolationKind, ViolationReport};
pub use event::{Event, EventType, Ingested, Rejected, UnknownEventType};
