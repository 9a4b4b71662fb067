//! Everything wrong with a plan, found at once: its structure, every event schema, duplicate
//! and misplaced entries. Each problem names a JSON pointer, and a line and column when the
//! plan came from a file.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde::Serialize;
use serde_json::Value;
use silta_model::EventType;

use crate::plan::TrackingPlan;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// JSON pointer into the plan document, e.g. `/events/3/properties/required`.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(formatter, "line {line}, column {column}: ")?;
        }
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(formatter, "{path}: {}", self.message)
    }
}

/// A key as one segment of a JSON pointer.
pub(crate) fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

static PLAN_FILE_SCHEMA: LazyLock<Validator> = LazyLock::new(|| {
    let schema: Value =
        serde_json::from_str(include_str!("plan.schema.json")).expect("the plan schema is JSON");
    jsonschema::draft202012::new(&schema).expect("the plan schema compiles")
});

/// Problems with the shape of a plan document: unknown keys, wrong types, missing names.
pub fn structure_problems(document: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    for error in PLAN_FILE_SCHEMA.iter_errors(document) {
        let at = error.instance_path().as_str();
        match error.kind() {
            // Pointing at the unknown key itself gives its line, not its object's.
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                problems.extend(unexpected.iter().map(|key| {
                    Problem::at(
                        format!("{at}/{}", escape_pointer(key)),
                        format!("unknown key `{key}`"),
                    )
                }));
            }
            _ => problems.push(Problem::at(at, error.to_string())),
        }
    }
    problems
}

/// Problems with the events of a well-formed plan: names where they are needed (and not
/// where they are not), each schema valid draft 2020-12, no event planned twice.
pub fn schema_problems(plan: &TrackingPlan) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen: HashMap<(EventType, Option<&str>), usize> = HashMap::new();
    for (index, planned) in plan.events.iter().enumerate() {
        let at = |field: &str| format!("/events/{index}{field}");
        match (planned.event_type, &planned.name) {
            (EventType::Track, None) => {
                problems.push(Problem::at(at(""), "a track event needs a name"));
            }
            (EventType::Identify, Some(_)) => {
                problems.push(Problem::at(at("/name"), "identify calls have no name"));
            }
            (EventType::Alias, _) => {
                problems.push(Problem::at(
                    at("/type"),
                    "alias calls carry no payload to plan",
                ));
            }
            _ => {}
        }
        let (payload_field, _) = planned.payload_schema();
        let misplaced = if payload_field == "traits" {
            planned.properties.as_ref().map(|_| "properties")
        } else {
            planned.traits.as_ref().map(|_| "traits")
        };
        if let Some(misplaced) = misplaced {
            problems.push(Problem::at(
                at(&format!("/{misplaced}")),
                format!(
                    "{} calls are described by `{payload_field}`, not `{misplaced}`",
                    planned.event_type
                ),
            ));
        }
        for (field, schema) in [
            ("properties", &planned.properties),
            ("traits", &planned.traits),
        ] {
            let Some(schema) = schema else { continue };
            let meta_errors: Vec<Problem> = jsonschema::draft202012::meta::validator()
                .iter_errors(schema)
                .map(|error| {
                    Problem::at(
                        at(&format!("/{field}{}", error.instance_path().as_str())),
                        format!("not a valid JSON Schema: {error}"),
                    )
                })
                .collect();
            if meta_errors.is_empty()
                && let Err(error) = jsonschema::draft202012::new(schema)
            {
                problems.push(Problem::at(
                    at(&format!("/{field}")),
                    format!("schema does not compile: {error}"),
                ));
            }
            problems.extend(meta_errors);
        }
        let key = (planned.event_type, planned.name.as_deref());
        if let Some(first) = seen.insert(key, index) {
            problems.push(Problem::at(
                at(""),
                format!(
                    "{} is planned twice (first at /events/{first})",
                    planned.label()
                ),
            ));
        }
    }
    problems
}
