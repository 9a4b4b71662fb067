//! A source's consent policy, applied to collected events before they are made durable.

use serde_json::{Map, Value};
use silta_model::{ANALYTICS, ConsentConfig, ConsentPolicy, Event};

/// Context fields that identify a person or a device.
const IDENTIFYING_CONTEXT: [&str; 3] = ["traits", "externalIds", "ip"];
const IDENTIFYING_DEVICE: [&str; 2] = ["id", "advertisingId"];

/// Applies `policy` to the events that do not grant analytics consent: `Drop` removes them,
/// `Anonymise` strips what identifies the person. Returns how many were dropped.
pub fn enforce_consent(
    events: &mut Vec<Event>,
    policy: ConsentPolicy,
    config: &ConsentConfig,
) -> usize {
    if policy == ConsentPolicy::Keep {
        return 0;
    }
    let before = events.len();
    events.retain_mut(|event| {
        let context: Value = serde_json::from_str(&event.context).unwrap_or_default();
        if config.grants(&context, ANALYTICS) {
            return true;
        }
        match policy {
            ConsentPolicy::Drop => false,
            ConsentPolicy::Keep | ConsentPolicy::Anonymise => {
                strip_identifiers(event, context);
                true
            }
        }
    });
    before - events.len()
}

/// Removes user and anonymous ids, traits, the IP address and device ids. What the event did
/// (name, properties, page, campaign, user agent) stays for aggregate analytics.
pub fn anonymise(event: &mut Event) {
    let context: Value = serde_json::from_str(&event.context).unwrap_or_default();
    strip_identifiers(event, context);
}

fn strip_identifiers(event: &mut Event, context: Value) {
    let mut context = match context {
        Value::Object(context) => context,
        _ => Map::new(),
    };
    event.user_id = None;
    event.anonymous_id = None;
    event.previous_id = None;
    event.ip = None;
    event.traits = "{}".to_string();
    for field in IDENTIFYING_CONTEXT {
        context.remove(field);
    }
    if let Some(Value::Object(device)) = context.get_mut("device") {
        for field in IDENTIFYING_DEVICE {
            device.remove(field);
        }
    }
    event.context = Value::Object(context).to_string();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(message_id: &str, context: Value) -> Event {
        Event {
            message_id: message_id.to_string(),
            user_id: Some("u-1".to_string()),
            anonymous_id: Some("a-1".to_string()),
            ip: Some("192.0.2.0".to_string()),
            traits: json!({"email": "ada@example.com"}).to_string(),
            context: context.to_string(),
            ..Event::default()
        }
    }

    fn events() -> Vec<Event> {
        let granted = json!({"consent": {"categoryPreferences": {"Analytics": true}}});
        let refused = json!({
            "consent": {"categoryPreferences": {"Analytics": false}},
            "traits": {"email": "ada@example.com"},
            "device": {"id": "d-1", "advertisingId": "ad-1", "type": "ios"},
            "externalIds": [{"type": "crm_id", "id": "c-1"}],
            "ip": "192.0.2.1"
        });
        vec![
            event("granted", granted),
            event("refused", refused),
            event("silent", json!({})),
        ]
    }

    #[test]
    fn keep_changes_nothing_and_drop_removes_events_without_analytics_consent() {
        let config = ConsentConfig::default();
        let mut kept = events();
        assert_eq!(enforce_consent(&mut kept, ConsentPolicy::Keep, &config), 0);
        assert_eq!(kept, events());
        let mut dropped = events();
        assert_eq!(
            enforce_consent(&mut dropped, ConsentPolicy::Drop, &config),
            2
        );
        assert_eq!(dropped, events()[..1]);
    }

    #[test]
    fn anonymise_strips_every_identifier_but_keeps_what_happened() {
        let config = ConsentConfig::default();
        let mut anonymised = events();
        assert_eq!(
            enforce_consent(&mut anonymised, ConsentPolicy::Anonymise, &config),
            0
        );
        assert_eq!(anonymised[0], events()[0]);
        for event in &anonymised[1..] {
            let text = format!("{event:?}");
            for identifying in [
                "u-1",
                "a-1",
                "ada@example.com",
                "d-1",
                "ad-1",
                "c-1",
                "192.0.2",
            ] {
                assert!(!text.contains(identifying), "{identifying} left in {text}");
            }
        }
        let context: Value = serde_json::from_str(&anonymised[1].context).expect("json");
        assert_eq!(context["device"]["type"], "ios");
        assert_eq!(
            context["consent"]["categoryPreferences"]["Analytics"],
            false
        );
    }
}
