//! The `messageId` dedupe index: which (source, messageId) pairs were seen within the window.

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_128;

/// Keys are 128-bit hashes of source and message id, so the index costs 32 bytes an event;
/// a false duplicate needs a 128-bit collision.
#[derive(Default)]
pub struct DedupeIndex {
    seen_at_micros: HashMap<u128, i64>,
}

pub type DedupeKey = u128;

pub fn key(source_id: &str, message_id: &str) -> DedupeKey {
    let mut bytes = Vec::with_capacity(source_id.len() + message_id.len() + 1);
    bytes.extend_from_slice(source_id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(message_id.as_bytes());
    xxh3_128(&bytes)
}

impl DedupeIndex {
    /// Whether the pair was first seen at or after `window_start_micros`.
    pub fn seen_since(&self, key: DedupeKey, window_start_micros: i64) -> bool {
        self.seen_at_micros
            .get(&key)
            .is_some_and(|seen_at| *seen_at >= window_start_micros)
    }

    /// Records a sighting; the window runs from the first one still inside it.
    pub fn record(&mut self, key: DedupeKey, received_at_micros: i64, window_start_micros: i64) {
        let seen_at = self.seen_at_micros.entry(key).or_insert(received_at_micros);
        if *seen_at < window_start_micros {
            *seen_at = received_at_micros;
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
        let web = key("web", "m1");
        assert!(!index.seen_since(web, 0));
        index.record(web, 100, 0);
        assert!(index.seen_since(web, 0));
        index.record(web, 150, 0);
        assert!(!index.seen_since(key("app", "m1"), 0));
        // Once the first sighting falls out of the window the id is new again, and a new
        // sighting starts a new window.
        assert!(!index.seen_since(web, 200));
        index.record(web, 500, 200);
        assert!(index.seen_since(web, 400));
        index.record(key("app", "m1"), 150, 0);
        index.forget_before(400);
        assert_eq!(index.len(), 1);
    }
}
