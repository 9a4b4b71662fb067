use serde::Deserialize;
use serde_json::value::RawValue;
use silta_model::EventType;

use crate::{CollectError, Endpoint, Limits};

/// A request body split into its envelope and its raw events. Events stay raw JSON text so a
/// refused one can be quarantined exactly as it arrived.
#[derive(Debug)]
pub struct ParsedRequest<'a> {
    pub events: Vec<&'a RawValue>,
    pub write_key: Option<String>,
    /// The envelope's `sentAt`: when the client sent the request, by its own clock.
    pub sent_at: Option<String>,
    /// Envelope context, merged under each event's own context.
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
    pub integrations: Option<&'a RawValue>,
    /// The call type fixed by the endpoint (`/v1/track` and friends).
    pub forced_type: Option<EventType>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchEnvelope<'a> {
    #[serde(borrow, default)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(default)]
    write_key: Option<String>,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    context: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(borrow, default)]
    integrations: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SingleEnvelope {
    #[serde(default)]
    write_key: Option<serde_json::Value>,
    #[serde(default)]
    sent_at: Option<serde_json::Value>,
}

/// Parses a decoded body for the given endpoint. Only envelope-level problems fail the whole
/// request; problems inside one event are found later, per event.
pub fn parse_request<'a>(
    body: &'a [u8],
    endpoint: Endpoint,
    limits: &Limits,
) -> Result<ParsedRequest<'a>, CollectError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(CollectError::EmptyBody);
    }
    match endpoint {
        Endpoint::Batch => parse_batch(body, limits),
        Endpoint::Single(event_type) => parse_single(body, event_type),
    }
}

fn malformed(error: serde_json::Error) -> CollectError {
    CollectError::MalformedJson(error.to_string())
}

fn parse_batch<'a>(body: &'a [u8], limits: &Limits) -> Result<ParsedRequest<'a>, CollectError> {
    let envelope: BatchEnvelope<'a> = serde_json::from_slice(body).map_err(malformed)?;
    let events = envelope.batch.ok_or(CollectError::MissingBatch)?;
    if events.is_empty() {
        return Err(CollectError::MissingBatch);
    }
    if events.len() > limits.max_batch_events {
        return Err(CollectError::TooManyEvents {
            count: events.len(),
            limit: limits.max_batch_events,
        });
    }
    Ok(ParsedRequest {
        events,
        write_key: envelope.write_key,
        sent_at: envelope.sent_at,
        context: envelope.context,
        integrations: envelope.integrations,
        forced_type: None,
    })
}

fn parse_single(body: &[u8], event_type: EventType) -> Result<ParsedRequest<'_>, CollectError> {
    let event: &RawValue = serde_json::from_slice(body).map_err(malformed)?;
    // Wrong-typed envelope fields are left to per-event validation, so that the event is kept.
    let envelope: SingleEnvelope = serde_json::from_str(event.get()).unwrap_or(SingleEnvelope {
        write_key: None,
        sent_at: None,
    });
    let as_text = |value: Option<serde_json::Value>| match value {
        Some(serde_json::Value::String(text)) => Some(text),
        _ => None,
    };
    Ok(ParsedRequest {
        events: vec![event],
        write_key: as_text(envelope.write_key),
        sent_at: as_text(envelope.sent_at),
        context: None,
        integrations: None,
        forced_type: Some(event_type),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_envelope_fields_are_read() {
        let body = br#"{"batch":[{"type":"track"},{"type":"page"}],"writeKey":"k","sentAt":"2026-01-01T00:00:00Z","context":{"ip":"1.2.3.4"}}"#;
        let parsed = parse_request(body, Endpoint::Batch, &Limits::default()).expect("parses");
        assert_eq!(parsed.events.len(), 2);
        assert_eq!(parsed.write_key.as_deref(), Some("k"));
        assert_eq!(parsed.sent_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert!(
            parsed
                .context
                .is_some_and(|context| context.contains_key("ip"))
        );
    }

    #[test]
    fn envelope_errors_fail_the_request() {
        let limits = Limits {
            max_batch_events: 1,
            ..Limits::default()
        };
        let cases: [(&[u8], &str); 5] = [
            (b"{\"batch\":[", "malformed_json"),
            (b"[1,2]", "malformed_json"),
            (b"{\"batch\":[]}", "missing_batch"),
            (b"  ", "empty_body"),
            (b"{\"batch\":[{},{}]}", "too_many_events"),
        ];
        for (body, code) in cases {
            let error = parse_request(body, Endpoint::Batch, &limits).expect_err("refused");
            assert_eq!(
                error.code(),
                code,
                "body {:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_single_event_keeps_its_write_key() {
        let body = br#"{"userId":"u1","event":"Signed Up","writeKey":"abc"}"#;
        let parsed = parse_request(body, Endpoint::Single(EventType::Track), &Limits::default())
            .expect("parses");
        assert_eq!(parsed.write_key.as_deref(), Some("abc"));
        assert_eq!(parsed.forced_type, Some(EventType::Track));
    }
}
