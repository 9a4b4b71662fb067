//! What one event says about who sent it: its identifiers, traits and device.

use serde::Deserialize;
use serde_json::{Map, Value};
use silta_model::{Event, EventType};

use crate::identifier::{IdentityConfig, is_valid_type_name, rank};

/// Identifiers (normalised, strongest first, each once), traits and device of one event.
#[derive(Debug, Default)]
pub struct Extracted {
    pub identifiers: Vec<(String, String)>,
    /// Identifiers that could not be used, with the reason.
    pub problems: Vec<String>,
    pub traits: Map<String, Value>,
    pub device_type: Option<String>,
    /// Purposes the event grants (`true`) or refuses (`false`).
    pub consent: Vec<(String, bool)>,
}

/// The parts of `context` that say who sent an event; everything else is skipped unread.
#[derive(Default, Deserialize)]
struct WhoContext {
    #[serde(default)]
    traits: Option<Value>,
    #[serde(default)]
    device: Option<Value>,
    #[serde(default, rename = "externalIds")]
    external_ids: Option<Value>,
    #[serde(default)]
    consent: Option<Value>,
}

fn parse_object(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl Extracted {
    pub fn from_event(event: &Event, config: &IdentityConfig) -> Extracted {
        let mut extracted = Extracted::default();
        // Stored events were validated at collection; anything else has nothing to offer.
        let context: WhoContext = serde_json::from_str(&event.context).unwrap_or_default();
        if let Some(Value::Object(traits)) = context.traits {
            extracted.traits.extend(traits);
        }
        if let Some(consent) = &context.consent {
            extracted.consent = config.consent.preferences_of(consent);
        }
        if event.event_type == EventType::Identify {
            extracted.traits.extend(parse_object(&event.traits));
        }
        if let Some(user_id) = &event.user_id {
            extracted.add(config, "user_id", user_id);
        }
        if let Some(anonymous_id) = &event.anonymous_id {
            extracted.add(config, "anonymous_id", anonymous_id);
        }
        if let (EventType::Alias, Some(previous_id)) = (event.event_type, &event.previous_id) {
            // Segment's previousId is the earlier anonymousId (or userId); it links to userId.
            extracted.add(config, "anonymous_id", previous_id);
        }
        let device = context.device.as_ref().and_then(Value::as_object);
        if let Some(device) = device {
            if let Some(id) = text_of(device.get("id")) {
                extracted.add(config, "device_id", &id);
            }
            if let Some(id) = text_of(device.get("advertisingId")) {
                extracted.add(config, "advertising_id", &id);
            }
            extracted.device_type = text_of(device.get("type")).map(|kind| kind.to_lowercase());
        }
        if let Some(Value::Array(external_ids)) = &context.external_ids {
            for external in external_ids.iter().filter_map(Value::as_object) {
                let kind = text_of(external.get("type")).map(|kind| kind.to_lowercase());
                match (kind, text_of(external.get("id"))) {
                    (Some(kind), Some(id)) => extracted.add(config, &kind, &id),
                    _ => extracted
                        .problems
                        .push("an external id needs `type` and `id`".to_string()),
                }
            }
        }
        let trait_identifiers: Vec<(String, String)> = config
            .trait_identifiers
            .iter()
            .filter_map(|(name, kind)| {
                text_of(extracted.traits.get(name)).map(|value| (kind.clone(), value))
            })
            .collect();
        for (kind, value) in trait_identifiers {
            extracted.add(config, &kind, &value);
        }
        extracted
            .identifiers
            .sort_by_key(|(kind, _)| rank(kind.as_str()));
        extracted
    }

    fn add(&mut self, config: &IdentityConfig, kind: &str, value: &str) {
        if !is_valid_type_name(kind) {
            self.problems
                .push(format!("`{kind}` is not a valid identifier type"));
            return;
        }
        match config.normalise(kind, value) {
            Ok(value) => {
                let pair = (kind.to_string(), value);
                if !self.identifiers.contains(&pair) {
                    self.identifiers.push(pair);
                }
            }
            Err(problem) => self.problems.push(problem),
        }
    }
}

/// The event's usable identifiers as `type:value`, strongest first: the nodes an event links,
/// for comparing the graph with other engines.
pub fn identifier_keys(event: &Event, config: &IdentityConfig) -> Vec<String> {
    Extracted::from_event(event, config)
        .identifiers
        .into_iter()
        .map(|(kind, value)| format!("{kind}:{value}"))
        .collect()
}
