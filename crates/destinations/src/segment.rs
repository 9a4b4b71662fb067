//! An event in the JSON of the Segment spec, the shape most receivers already understand.

use serde_json::{Map, Value, json};
use silta_model::{Event, EventType};

/// The free-form parts are stored as JSON text exactly as sent; text that does not parse (it
/// always should) travels as a string rather than being lost.
fn parsed(text: &str) -> Value {
    if text.is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

pub fn segment_json(event: &Event) -> Value {
    let mut message = json!({
        "type": event.event_type.as_str(),
        "messageId": event.message_id,
        "timestamp": event.timestamp.to_rfc3339(),
        "receivedAt": event.received_at.to_rfc3339(),
        "context": parsed(&event.context),
    });
    let fields = [
        ("userId", &event.user_id),
        ("anonymousId", &event.anonymous_id),
        ("groupId", &event.group_id),
        ("previousId", &event.previous_id),
        ("event", &event.event),
        ("name", &event.name),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            message[field] = json!(value);
        }
    }
    match event.event_type {
        EventType::Track | EventType::Page | EventType::Screen => {
            message["properties"] = parsed(&event.properties);
        }
        EventType::Identify | EventType::Group => message["traits"] = parsed(&event.traits),
        EventType::Alias => {}
    }
    if let Some(sent_at) = event.sent_at {
        message["sentAt"] = json!(sent_at.to_rfc3339());
    }
    message["source"] = json!(event.source_id);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_call_keeps_its_properties_and_ids() {
        let event = Event {
            message_id: "m1".into(),
            event_type: EventType::Track,
            event: Some("Order Completed".into()),
            user_id: Some("u1".into()),
            properties: r#"{"revenue":12.5}"#.into(),
            context: r#"{"ip":"1.2.3.0"}"#.into(),
            source_id: "web".into(),
            ..Event::default()
        };
        let message = segment_json(&event);
        assert_eq!(message["type"], "track");
        assert_eq!(message["event"], "Order Completed");
        assert_eq!(message["userId"], "u1");
        assert_eq!(message["properties"]["revenue"], 12.5);
        assert_eq!(message["context"]["ip"], "1.2.3.0");
        assert!(message.get("anonymousId").is_none());
        assert!(message.get("traits").is_none());
    }
}
