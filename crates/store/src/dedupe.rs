//! The `messageId` dedupe index: which (source, messageId) pairs were seen within the window.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_128;

/// Keys are 128-bit hashes of source and message id, so the index costs 32 bytes an event;
/// a false duplicate needs a 128-bit collision.
#[derive(Default)]
pub struct DedupeIndex {
    seen_at_micros: HashMap<u128, i64>,
}

fn key(source_id: &str, message_id: &str) -> u128 {
    let mut bytes = Vec::with_capacity(source_id.len() + message_id.len() + 1);
    bytes.extend_from_slice(source_id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(message_id.as_bytes());
    xxh3_128(&bytes)
}

impl DedupeIndex {
    /// Records the pair and says whether it is new. A pair seen before `window_start_micros`
    /// counts as new again.
    pub fn first_sighting(
        &mut self,
        source_id: &str,
        message_id: &str,
        received_at_micros: i64,
        window_start_micros: i64,
    ) -> bool {
        let previous = self
            .seen_at_micros
            .insert(key(source_id, message_id), received_at_micros);
        match previous {
            Some(seen_at) if seen_at >= window_start_micros => {
                // Keep the first sighting's time so the window runs from it.
                self.seen_at_micros
                    .insert(key(source_id, message_id), seen_at);
                false
            }
            _ => true,
        }
    }

    pub fn forget_before(&mut self, window_start_micros: i64) {
        self.seen_at_micros
            .retain(|_, seen_at| *seen_at >= window_start_micros);
    }

    pub fn len(&self) -> usize {
        self.seen_at_micros.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_per_source_and_per_window() {
        let mut index = DedupeIndex::default();
        assert!(index.first_sighting("web", "m1", 100, 0));
        assert!(!index.first_sighting("web", "m1", 150, 0));
        assert!(index.first_sighting("app", "m1", 150, 0));
        // Once the first sighting falls out of the window the id is new again.
        assert!(index.first_sighting("web", "m1", 500, 200));
        index.forget_before(400);
        assert_eq!(index.len(), 1);
    }
}
