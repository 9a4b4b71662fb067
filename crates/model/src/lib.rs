//! Plain types shared by every Silta crate: the normalised event (Segment spec), channels and
//! quarantined events. No I/O lives here.

mod channel;
mod event;

pub use channel::{Channel, UnknownChannel};
pub use event::{Event, EventType, Ingested, Rejected, UnknownEventType};
