//! Event envelopes and `/v1/batch` bodies: one open batch per source, handed over when it is
//! full and at the end of every day so that the stream stays in rough time order.

use silta_model::EventType;

use crate::json::{JsonObject, write_u64};
use crate::{DEMO_SOURCES, DemoBatch};

pub(crate) const MAX_EVENTS_PER_BATCH: usize = 500;
/// Silta and Segment refuse bodies over 500 KiB; one event stays far below the margin.
pub(crate) const MAX_BATCH_BYTES: usize = 400 * 1024;

/// The demo's sources, in [`DEMO_SOURCES`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    WebShop = 0,
    MobileApp = 1,
    EmailPlatform = 2,
    ShopBackend = 3,
    LoyaltyProgramme = 4,
    AdServer = 5,
    Crm = 6,
}

#[derive(Debug, Default)]
struct OpenBatch {
    body: Vec<u8>,
    events: usize,
}

/// Writes events into per-source batches.
#[derive(Debug)]
pub(crate) struct Emitter {
    seed: u64,
    next_message_number: u64,
    timestamp_prefix: Vec<u8>,
    open: Vec<OpenBatch>,
    ready: Vec<DemoBatch>,
}

impl Emitter {
    pub(crate) fn new(seed: u64) -> Self {
        Emitter {
            seed,
            next_message_number: 0,
            timestamp_prefix: Vec::new(),
            open: DEMO_SOURCES.iter().map(|_| OpenBatch::default()).collect(),
            ready: Vec::new(),
        }
    }

    /// Events written so far.
    pub(crate) fn events(&self) -> u64 {
        self.next_message_number
    }

    /// `prefix` is the `YYYY-MM-DDT` of the day that the following events fall on.
    pub(crate) fn start_day(&mut self, prefix: &str) {
        self.timestamp_prefix.clear();
        self.timestamp_prefix.extend_from_slice(prefix.as_bytes());
    }

    /// Opens an event with its `type`, `messageId` and `timestamp`; the caller adds the rest and
    /// the object closes when dropped.
    pub(crate) fn event(
        &mut self,
        source: Source,
        event_type: EventType,
        millis: u32,
    ) -> JsonObject<'_> {
        let open_batch = &self.open[source as usize];
        if open_batch.events >= MAX_EVENTS_PER_BATCH || open_batch.body.len() >= MAX_BATCH_BYTES {
            self.hand_over(source as usize);
        }
        let message_number = self.next_message_number;
        self.next_message_number += 1;

        let open_batch = &mut self.open[source as usize];
        if open_batch.events == 0 {
            open_batch.body.reserve(256 * 1024);
            open_batch.body.extend_from_slice(b"{\"batch\":[");
        } else {
            open_batch.body.push(b',');
        }
        open_batch.events += 1;

        let mut event = JsonObject::open(&mut open_batch.body);
        event.str("type", event_type.as_str());
        let message_id = event.raw_value("messageId");
        message_id.extend_from_slice(b"\"demo-");
        write_u64(message_id, self.seed);
        message_id.push(b'-');
        write_u64(message_id, message_number);
        message_id.push(b'"');
        let timestamp = event.raw_value("timestamp");
        timestamp.push(b'"');
        timestamp.extend_from_slice(&self.timestamp_prefix);
        crate::calendar::write_time_of_day(timestamp, millis);
        timestamp.push(b'"');
        event
    }

    fn hand_over(&mut self, source_index: usize) {
        let open_batch = std::mem::take(&mut self.open[source_index]);
        if open_batch.events == 0 {
            return;
        }
        let mut body = open_batch.body;
        body.extend_from_slice(b"]}");
        self.ready.push(DemoBatch { source_index, body });
    }

    /// Hands over every non-empty batch: nothing of a day waits behind the next day's events.
    pub(crate) fn end_day(&mut self) {
        for source_index in 0..self.open.len() {
            self.hand_over(source_index);
        }
    }

    /// Batches that are complete, oldest first.
    pub(crate) fn take_ready(&mut self) -> std::vec::Drain<'_, DemoBatch> {
        self.ready.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_split_at_five_hundred_events_and_parse() {
        let mut emitter = Emitter::new(9);
        emitter.start_day("2025-01-02T");
        for number in 0..1_001u32 {
            let mut event = emitter.event(Source::Crm, EventType::Identify, number);
            event.str("userId", "user-1");
        }
        emitter.end_day();
        let batches: Vec<DemoBatch> = emitter.take_ready().collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(emitter.events(), 1_001);
        let mut message_ids = Vec::new();
        for batch in &batches {
            assert_eq!(batch.source_index, Source::Crm as usize);
            let body: serde_json::Value = serde_json::from_slice(&batch.body).expect("valid json");
            let events = body["batch"].as_array().expect("batch array");
            assert!(events.len() <= MAX_EVENTS_PER_BATCH);
            for event in events {
                assert_eq!(event["type"], "identify");
                message_ids.push(event["messageId"].as_str().expect("message id").to_string());
            }
        }
        assert_eq!(message_ids[0], "demo-9-0");
        assert_eq!(message_ids[1_000], "demo-9-1000");
        let first: serde_json::Value = serde_json::from_slice(&batches[0].body).expect("json");
        assert_eq!(first["batch"][1]["timestamp"], "2025-01-02T00:00:00.001Z");
    }

    #[test]
    fn sources_match_the_public_list() {
        let names: Vec<&str> = DEMO_SOURCES.iter().map(|source| source.name).collect();
        assert_eq!(names[Source::WebShop as usize], "Web shop");
        assert_eq!(names[Source::MobileApp as usize], "Mobile app");
        assert_eq!(names[Source::EmailPlatform as usize], "Email platform");
        assert_eq!(names[Source::ShopBackend as usize], "Shop backend");
        assert_eq!(
            names[Source::LoyaltyProgramme as usize],
            "Loyalty programme"
        );
        assert_eq!(names[Source::AdServer as usize], "Ad server");
        assert_eq!(names[Source::Crm as usize], "CRM");
        assert_eq!(names.len(), 7);
    }
}
