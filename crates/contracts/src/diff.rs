//! What changed between two versions of a plan, in words a reviewer reads: events added or
//! removed, properties added, removed, retyped, made required or optional, their allowed values
//! and classification.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::plan::{Classification, PlannedEvent, TrackingPlan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One change, with the event and (for a property) the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanChange {
    pub kind: ChangeKind,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub text: String,
}

impl fmt::Display for PlanChange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.kind {
            ChangeKind::Added => '+',
            ChangeKind::Removed => '-',
            ChangeKind::Changed => '~',
        };
        write!(formatter, "{sign} {}", self.event)?;
        if let Some(field) = &self.field {
            write!(formatter, " {field}")?;
        }
        write!(formatter, ": {}", self.text)
    }
}

/// What a reviewer needs to know of one planned field.
#[derive(Debug, Clone, PartialEq)]
struct FieldSpec {
    types: String,
    required: bool,
    allowed: Option<String>,
    description: Option<String>,
}

impl FieldSpec {
    fn summary(&self) -> String {
        let mut text = format!(
            "{}, {}",
            self.types,
            if self.required {
                "required"
            } else {
                "optional"
            }
        );
        if let Some(allowed) = &self.allowed {
            text.push_str(&format!(", one of {allowed}"));
        }
        text
    }
}

/// The fields a JSON Schema describes, by dotted path (nested objects included).
fn fields_of(schema: Option<&Value>, prefix: &str, fields: &mut BTreeMap<String, FieldSpec>) {
    let Some(schema) = schema.and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let path = format!("{prefix}{name}");
        let types = match property.get("type") {
            Some(Value::String(single)) => single.clone(),
            Some(Value::Array(several)) => several
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
            _ => "any type".to_string(),
        };
        fields.insert(
            path.clone(),
            FieldSpec {
                types,
                required: required.contains(&name.as_str()),
                allowed: property.get("enum").map(Value::to_string),
                description: property
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
        );
        fields_of(Some(property), &format!("{path}."), fields);
    }
}

fn describe_classification(classification: Option<&Classification>) -> String {
    match classification {
        None => "unclassified".to_string(),
        Some(classification) => {
            let personal = if classification.personal {
                "personal"
            } else {
                "not personal"
            };
            match classification.category {
                Some(category) => {
                    format!("{personal} ({})", serde_json::json!(category)).replace('"', "")
                }
                None => personal.to_string(),
            }
        }
    }
}

fn event_changes(old: &PlannedEvent, new: &PlannedEvent, changes: &mut Vec<PlanChange>) {
    let event = new.label();
    let mut push = |kind, field: Option<String>, text: String| {
        changes.push(PlanChange {
            kind,
            event: event.clone(),
            field,
            text,
        })
    };
    if old.description != new.description {
        push(ChangeKind::Changed, None, "description changed".to_string());
    }
    if old.owner != new.owner {
        push(
            ChangeKind::Changed,
            None,
            format!(
                "owner {} → {}",
                old.owner.as_deref().unwrap_or("none"),
                new.owner.as_deref().unwrap_or("none")
            ),
        );
    }
    let (mut before, mut after) = (BTreeMap::new(), BTreeMap::new());
    fields_of(old.payload_schema().1, "", &mut before);
    fields_of(new.payload_schema().1, "", &mut after);
    for (field, spec) in &after {
        match before.get(field) {
            None => push(
                ChangeKind::Added,
                Some(field.clone()),
                format!("new property ({})", spec.summary()),
            ),
            Some(old_spec) if old_spec != spec => {
                let mut parts = Vec::new();
                if old_spec.types != spec.types {
                    parts.push(format!("type {} → {}", old_spec.types, spec.types));
                }
                if old_spec.required != spec.required {
                    parts.push(
                        if spec.required {
                            "now required"
                        } else {
                            "now optional"
                        }
                        .to_string(),
                    );
                }
                if old_spec.allowed != spec.allowed {
                    parts.push(format!(
                        "allowed values {} → {}",
                        old_spec.allowed.as_deref().unwrap_or("any"),
                        spec.allowed.as_deref().unwrap_or("any")
                    ));
                }
                if old_spec.description != spec.description {
                    parts.push("description changed".to_string());
                }
                push(ChangeKind::Changed, Some(field.clone()), parts.join("; "));
            }
            Some(_) => {}
        }
    }
    for (field, spec) in &before {
        if !after.contains_key(field) {
            push(
                ChangeKind::Removed,
                Some(field.clone()),
                format!("property removed (was {})", spec.summary()),
            );
        }
    }
    let fields: std::collections::BTreeSet<&String> = old
        .classification
        .keys()
        .chain(new.classification.keys())
        .collect();
    for field in fields {
        let (was, is) = (old.classification.get(field), new.classification.get(field));
        if was != is {
            push(
                ChangeKind::Changed,
                Some(field.clone()),
                format!(
                    "classification {} → {}",
                    describe_classification(was),
                    describe_classification(is)
                ),
            );
        }
    }
}

/// Every change from `old` to `new`, events in the new plan's order, then removed ones.
pub fn diff_plans(old: &TrackingPlan, new: &TrackingPlan) -> Vec<PlanChange> {
    let key = |planned: &PlannedEvent| (planned.event_type, planned.name.clone());
    let old_events: BTreeMap<_, &PlannedEvent> = old
        .events
        .iter()
        .map(|planned| (key(planned), planned))
        .collect();
    let mut changes = Vec::new();
    if old.owner != new.owner || old.description != new.description || old.name != new.name {
        changes.push(PlanChange {
            kind: ChangeKind::Changed,
            event: "plan".to_string(),
            field: None,
            text: "name, description or owner changed".to_string(),
        });
    }
    for planned in &new.events {
        match old_events.get(&key(planned)) {
            Some(previous) => event_changes(previous, planned, &mut changes),
            None => {
                let mut fields = BTreeMap::new();
                fields_of(planned.payload_schema().1, "", &mut fields);
                changes.push(PlanChange {
                    kind: ChangeKind::Added,
                    event: planned.label(),
                    field: None,
                    text: format!("new event with {} properties", fields.len()),
                });
            }
        }
    }
    let new_keys: std::collections::BTreeSet<_> = new.events.iter().map(key).collect();
    for planned in &old.events {
        if !new_keys.contains(&key(planned)) {
            changes.push(PlanChange {
                kind: ChangeKind::Removed,
                event: planned.label(),
                field: None,
                text: "event removed from the plan".to_string(),
            });
        }
    }
    changes
}
