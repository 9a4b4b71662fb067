//! Drafting a plan from the events a source actually sends: names, property types, values
//! seen often enough to be an enumeration, and how often each property is present, so that a
//! team starts from what exists instead of a blank page.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use silta_model::EventType;

use crate::personal::looks_personal;
use crate::plan::{Category, Classification, PlannedEvent, TrackingPlan};

/// Distinct event names (or page names) a draft keeps; the rest are counted as one.
const MAX_EVENTS: usize = 1_000;
/// Properties per event and nesting depth a draft describes.
const MAX_FIELDS: usize = 200;
const MAX_DEPTH: usize = 4;
/// A text property with at most this many distinct values, each seen at least
/// [`MIN_ENUM_SUPPORT`] times, is drafted as an enumeration.
const MAX_ENUM_VALUES: usize = 12;
const MIN_ENUM_SUPPORT: u64 = 3;

#[derive(Default)]
struct FieldSeen {
    present: u64,
    types: BTreeSet<&'static str>,
    /// Text values and their counts, until there are too many to be an enumeration.
    values: Option<BTreeMap<String, u64>>,
    looked_personal: bool,
    fields: BTreeMap<String, FieldSeen>,
}

#[derive(Default)]
struct EventSeen {
    count: u64,
    fields: BTreeMap<String, FieldSeen>,
}

/// Accumulates observed events; [`Drafter::plan`] turns them into a plan.
#[derive(Default)]
pub struct Drafter {
    events: BTreeMap<(EventType, Option<String>), EventSeen>,
    pub skipped: u64,
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn observe_fields(
    fields: &mut BTreeMap<String, FieldSeen>,
    payload: &Map<String, Value>,
    depth: usize,
) {
    for (name, value) in payload {
        if !fields.contains_key(name) && fields.len() >= MAX_FIELDS {
            continue;
        }
        let seen = fields.entry(name.clone()).or_insert_with(|| FieldSeen {
            values: Some(BTreeMap::new()),
            ..FieldSeen::default()
        });
        seen.present += 1;
        seen.types.insert(json_type(value));
        match value {
            Value::String(text) => {
                seen.looked_personal |= looks_personal(text).is_some();
                if let Some(values) = &mut seen.values {
                    *values.entry(text.clone()).or_default() += 1;
                    if values.len() > MAX_ENUM_VALUES {
                        seen.values = None;
                    }
                }
            }
            _ => seen.values = None,
        }
        if let Value::Object(nested) = value
            && depth < MAX_DEPTH
        {
            observe_fields(&mut seen.fields, nested, depth + 1);
        }
    }
}

impl Drafter {
    /// Counts one event with its properties (track, page, screen) or traits (identify, group).
    pub fn observe(&mut self, event_type: EventType, name: Option<&str>, payload: &Value) {
        if event_type == EventType::Alias {
            return;
        }
        // Identify calls have no name; pages and screens are planned by name.
        let name = (event_type != EventType::Identify)
            .then(|| name.map(str::to_string))
            .flatten();
        let key = (event_type, name);
        if !self.events.contains_key(&key) && self.events.len() >= MAX_EVENTS {
            self.skipped += 1;
            return;
        }
        let seen = self.events.entry(key).or_default();
        seen.count += 1;
        if let Value::Object(payload) = payload {
            observe_fields(&mut seen.fields, payload, 0);
        }
    }

    /// The draft: one entry per event seen, tracks without a name left out.
    pub fn plan(&self, name: &str) -> TrackingPlan {
        let mut events = Vec::new();
        for ((event_type, event_name), seen) in &self.events {
            if *event_type == EventType::Track && event_name.is_none() {
                continue;
            }
            let mut classification = BTreeMap::new();
            let schema = object_schema(&seen.fields, seen.count, "", &mut classification);
            let (properties, traits) = match event_type {
                EventType::Identify | EventType::Group => (None, Some(schema)),
                _ => (Some(schema), None),
            };
            events.push(PlannedEvent {
                event_type: *event_type,
                name: event_name.clone(),
                description: Some(format!("Drafted from {} events.", seen.count)),
                owner: None,
                properties,
                traits,
                classification,
            });
        }
        TrackingPlan {
            name: name.to_string(),
            description: Some(
                "Drafted from the events received; review before approving.".to_string(),
            ),
            owner: None,
            events,
        }
    }
}

fn object_schema(
    fields: &BTreeMap<String, FieldSeen>,
    count: u64,
    prefix: &str,
    classification: &mut BTreeMap<String, Classification>,
) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, seen) in fields {
        let path = format!("{prefix}{name}");
        if seen.present == count {
            required.push(Value::String(name.clone()));
        }
        if seen.looked_personal {
            classification.insert(
                path.clone(),
                Classification {
                    personal: true,
                    category: Some(Category::Contact),
                },
            );
        }
        let mut field = Map::new();
        let types: Vec<&str> = seen.types.iter().copied().collect();
        // An integer field that was sometimes fractional is a number.
        let types: Vec<&str> = if types.contains(&"integer") && types.contains(&"number") {
            types
                .into_iter()
                .filter(|kind| *kind != "integer")
                .collect()
        } else {
            types
        };
        field.insert(
            "type".to_string(),
            match types.as_slice() {
                [single] => json!(single),
                several => json!(several),
            },
        );
        field.insert(
            "description".to_string(),
            json!(format!(
                "Present in {:.0} % of {count} events.",
                100.0 * seen.present as f64 / count.max(1) as f64
            )),
        );
        if let Some(values) = &seen.values
            && !values.is_empty()
            && values.values().all(|&times| times >= MIN_ENUM_SUPPORT)
            && !seen.looked_personal
        {
            field.insert("enum".to_string(), json!(values.keys().collect::<Vec<_>>()));
        }
        if !seen.fields.is_empty() {
            let nested = object_schema(
                &seen.fields,
                seen.present,
                &format!("{path}."),
                classification,
            );
            if let Value::Object(nested) = nested {
                for key in ["properties", "required"] {
                    if let Some(value) = nested.get(key) {
                        field.insert(key.to_string(), value.clone());
                    }
                }
            }
        }
        properties.insert(name.clone(), Value::Object(field));
    }
    let mut schema = Map::new();
    schema.insert("type".to_string(), json!("object"));
    if !required.is_empty() {
        schema.insert("required".to_string(), Value::Array(required));
    }
    schema.insert("properties".to_string(), Value::Object(properties));
    Value::Object(schema)
}
