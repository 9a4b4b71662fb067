use serde::{Deserialize, Serialize};

/// Input limits of the collection API. Every one is configurable; the defaults follow Segment's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest single event, in bytes of JSON.
    pub max_event_bytes: usize,
    /// Largest request body, in bytes after decompression (and before).
    pub max_body_bytes: usize,
    /// Most events in one batch.
    pub max_batch_events: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 32 * 1024,
            max_body_bytes: 500 * 1024,
            max_batch_events: 2_500,
        }
    }
}
