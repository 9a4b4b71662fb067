//! Checking events against an approved tracking plan, as fast as ingestion needs: every schema
//! is compiled once, events are found by type and name in a hash map.

use std::collections::{HashMap, HashSet};

use jsonschema::Validator;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;
use silta_model::{EventType, Violation, ViolationKind};

use crate::personal::looks_personal;
use crate::plan::{PlannedEvent, TrackingPlan};
use crate::problems::{Problem, schema_problems};

/// What an event is checked on.
pub struct Observed<'a> {
    pub event_type: EventType,
    /// The track event's name, or the page, screen or group name.
    pub name: Option<&'a str>,
    /// `properties` for track, page and screen; `traits` for identify and group.
    pub payload: &'a Value,
}

/// A plan ready to check events.
pub struct CompiledPlan {
    events: Vec<CompiledEvent>,
    /// Named entries per type, so an event's name is looked up without allocating.
    by_name: HashMap<EventType, HashMap<String, usize>>,
    /// Entries without a name: every identify, or every page whose name has no entry.
    by_type: HashMap<EventType, usize>,
    /// Types the plan speaks of; events of other types (except track) are not checked.
    planned_types: HashSet<EventType>,
}

struct CompiledEvent {
    payload_field: &'static str,
    schema: Option<Validator>,
    /// Dotted paths the plan classifies, with whether each is personal data.
    classified: HashMap<String, bool>,
}

impl CompiledPlan {
    /// Compiles every schema of the plan, or says what is wrong with each one that fails.
    pub fn compile(plan: &TrackingPlan) -> Result<CompiledPlan, Vec<Problem>> {
        let problems = schema_problems(plan);
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut compiled = CompiledPlan {
            events: Vec::with_capacity(plan.events.len()),
            by_name: HashMap::new(),
            by_type: HashMap::new(),
            planned_types: HashSet::new(),
        };
        for (index, planned) in plan.events.iter().enumerate() {
            compiled.events.push(
                compile_event(planned)
                    .map_err(|message| vec![Problem::at(format!("/events/{index}"), message)])?,
            );
            compiled.planned_types.insert(planned.event_type);
            match &planned.name {
                Some(name) => compiled
                    .by_name
                    .entry(planned.event_type)
                    .or_default()
                    .insert(name.clone(), index),
                None => compiled.by_type.insert(planned.event_type, index),
            };
        }
        Ok(compiled)
    }

    /// The plan's verdict on one event: no violations when it keeps to the plan. Aliases and
    /// types the plan does not mention (other than track) are not checked.
    pub fn check(&self, event: &Observed<'_>) -> Vec<Violation> {
        if event.event_type == EventType::Alias
            || (event.event_type != EventType::Track
                && !self.planned_types.contains(&event.event_type))
        {
            return Vec::new();
        }
        let found = event
            .name
            .and_then(|name| self.by_name.get(&event.event_type)?.get(name).copied())
            .or_else(|| self.by_type.get(&event.event_type).copied());
        let Some(index) = found else {
            return vec![Violation {
                kind: ViolationKind::UnplannedEvent,
                field: String::new(),
                message: format!("this {} event is not in the plan", event.event_type),
            }];
        };
        let planned = &self.events[index];
        let mut violations = Vec::new();
        if let Some(schema) = &planned.schema {
            for error in schema.iter_errors(event.payload) {
                schema_violations(planned.payload_field, &error, &mut violations);
            }
        }
        personal_violations(
            planned,
            event.payload,
            &mut String::from(planned.payload_field),
            &mut violations,
        );
        violations
    }
}

fn compile_event(planned: &PlannedEvent) -> Result<CompiledEvent, String> {
    let (payload_field, schema) = planned.payload_schema();
    let schema = schema
        .map(|schema| {
            jsonschema::draft202012::options()
                .build(schema)
                .map_err(|error| format!("{payload_field}: {error}"))
        })
        .transpose()?;
    Ok(CompiledEvent {
        payload_field,
        schema,
        classified: planned
            .classification
            .iter()
            .map(|(field, classification)| (field.clone(), classification.personal))
            .collect(),
    })
}

/// `/items/0/sku` inside `properties` becomes `properties.items.0.sku`.
fn dotted(payload_field: &str, pointer: &str) -> String {
    let mut path = payload_field.to_string();
    for segment in pointer.split('/').filter(|segment| !segment.is_empty()) {
        path.push('.');
        path.push_str(&segment.replace("~1", "/").replace("~0", "~"));
    }
    path
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(single) => single.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|single| single.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// Planned values, shortened for a message.
fn options_text(options: &Value) -> String {
    let mut text = options.to_string();
    if text.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&at| text.is_char_boundary(at))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn schema_violations(
    payload_field: &str,
    error: &jsonschema::ValidationError<'_>,
    violations: &mut Vec<Violation>,
) {
    let at = dotted(payload_field, error.instance_path().as_str());
    let mut push = |kind, field: String, message: String| {
        violations.push(Violation {
            kind,
            field,
            message,
        })
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            push(
                ViolationKind::MissingRequired,
                format!("{at}.{name}"),
                "required property is missing".to_string(),
            );
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                push(
                    ViolationKind::UnplannedProperty,
                    format!("{at}.{name}"),
                    "property is not in the plan".to_string(),
                );
            }
        }
        ValidationErrorKind::Type { kind } => push(
            ViolationKind::WrongType,
            at,
            format!("expected {}", type_names(kind)),
        ),
        ValidationErrorKind::Enum { options } => push(
            ViolationKind::EnumMismatch,
            at,
            format!("expected one of {}", options_text(options)),
        ),
        ValidationErrorKind::Constant { expected_value } => push(
            ViolationKind::EnumMismatch,
            at,
            format!("expected {}", options_text(expected_value)),
        ),
        _ => push(ViolationKind::InvalidValue, at, error.masked().to_string()),
    }
}

/// Walks the payload for values that look like personal data in fields the plan does not
/// classify as personal. Array items share their array's path.
fn personal_violations(
    planned: &CompiledEvent,
    value: &Value,
    path: &mut String,
    violations: &mut Vec<Violation>,
) {
    match value {
        Value::String(text) => {
            let relative = path.split_once('.').map_or("", |(_, relative)| relative);
            if planned.classified.get(relative) == Some(&true) {
                return;
            }
            if let Some(looks_like) = looks_personal(text) {
                violations.push(Violation {
                    kind: ViolationKind::PersonalData,
                    field: path.clone(),
                    message: format!(
                        "value looks like {looks_like}, but the field is not classified as personal data"
                    ),
                });
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                let length = path.len();
                path.push('.');
                path.push_str(name);
                personal_violations(planned, field, path, violations);
                path.truncate(length);
            }
        }
        Value::Array(items) => {
            for item in items {
                personal_violations(planned, item, path, violations);
            }
        }
        _ => {}
    }
}
