//! Request decoding for the Segment-compatible collection API: body decompression under size caps,
//! write-key extraction, envelope parsing, per-event validation and normalisation. Pure functions
//! over bytes; the HTTP layer lives in `silta-server`.

mod bots;
mod consent;
mod decode;
mod endpoint;
mod error;
mod limits;
mod normalise;
mod parse;
mod pseudonymise;
mod write_key;

pub use bots::{BotDetector, BotLimits};
pub use consent::{anonymise, enforce_consent};
pub use decode::decode_body;
pub use endpoint::Endpoint;
pub use error::CollectError;
pub use limits::Limits;
pub use normalise::{Normaliser, RequestMeta, truncate_ip};
pub use parse::{ParsedRequest, parse_request};
pub use pseudonymise::{MIN_KEY_BYTES, PseudonymError, Pseudonymiser};
pub use write_key::{WriteKeySources, extract_write_key};

/// The outcome of one request: events ready for the WAL and the ones refused, in request order
/// of their positions.
#[derive(Debug, Default)]
pub struct Collected {
    pub accepted: Vec<silta_model::Event>,
    pub rejected: Vec<RejectedAt>,
}

/// A refused event and its position in the request, so the response can say which one it was.
#[derive(Debug)]
pub struct RejectedAt {
    pub index: usize,
    pub rejected: silta_model::Rejected,
}

/// Validates and normalises every event of a parsed request. Invalid events never reject the
/// valid ones.
pub fn collect_events(
    request: &ParsedRequest<'_>,
    meta: &RequestMeta,
    normaliser: &Normaliser,
) -> Collected {
    let mut collected = Collected {
        accepted: Vec::with_capacity(request.events.len()),
        rejected: Vec::new(),
    };
    for (index, raw_event) in request.events.iter().enumerate() {
        match normaliser.normalise(raw_event, request, meta) {
            Ok(event) => collected.accepted.push(event),
            Err(reason) => collected.rejected.push(RejectedAt {
                index,
                rejected: silta_model::Rejected {
                    received_at: meta.received_at,
                    source_id: meta.source_id.clone(),
                    message_id: normalise::message_id_of(raw_event),
                    reason,
                    payload: normaliser.quarantine_payload(raw_event),
                    violations: Vec::new(),
                },
            }),
        }
    }
    collected
}

#[cfg(test)]
mod hostile_input_tests {
    use proptest::prelude::*;

    use super::*;

    fn meta() -> RequestMeta {
        RequestMeta {
            received_at: chrono::Utc::now(),
            source_id: "s".to_string(),
            channel: silta_model::Channel::Web,
            peer_ip: None,
            user_agent: None,
        }
    }

    fn run(body: &[u8], endpoint: Endpoint) -> Option<Collected> {
        let limits = Limits::default();
        let decoded = decode_body(body, false, &limits).ok()?;
        let request = parse_request(&decoded, endpoint, &limits).ok()?;
        let normaliser = Normaliser {
            limits,
            truncate_ip: true,
        };
        let collected = collect_events(&request, &meta(), &normaliser);
        assert_eq!(
            collected.accepted.len() + collected.rejected.len(),
            request.events.len()
        );
        Some(collected)
    }

    proptest! {
        /// Arbitrary bytes never panic the decoder; every event is either accepted or rejected.
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            run(&body, Endpoint::Batch);
            run(&body, Endpoint::Single(silta_model::EventType::Track));
        }

        /// Structurally valid batches with arbitrary field values are fully accounted for.
        #[test]
        fn arbitrary_event_fields_are_accepted_or_rejected(
            kind in "(track|identify|page|screen|group|alias|bogus)",
            user in proptest::option::of("[a-z0-9]{0,6}"),
            event in proptest::option::of(".{0,8}"),
            timestamp in proptest::option::of("[0-9T:Z-]{0,24}"),
        ) {
            let event_json = serde_json::json!({"type": kind, "userId": user, "event": event, "timestamp": timestamp, "previousId": "p", "groupId": "g"});
            let body = serde_json::json!({"batch": [event_json]}).to_string();
            let collected = run(body.as_bytes(), Endpoint::Batch).expect("valid envelope");
            prop_assert_eq!(collected.accepted.len() + collected.rejected.len(), 1);
        }
    }
}
