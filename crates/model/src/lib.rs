//! Plain types shared by every Silta crate: the normalised event (Segment spec), channels,
//! quarantined events and consent. No I/O lives here.

mod bots;
mod channel;
mod consent;
mod event;

pub use bots::{BotPolicy, UnknownBotPolicy};
pub use channel::{Channel, UnknownChannel};
pub use consent::{ANALYTICS, ConsentConfig, ConsentPolicy, UnknownConsentPolicy, UnknownPurpose};
pub use event::{Event, EventType, Ingested, Rejected, UnknownEventType};
