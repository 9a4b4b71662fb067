//! Mappings: which fields a destination receives and under which names, as a small JSON
//! template. Each output field takes a path into the event's Segment JSON (`properties.total`,
//! `context.traits.email`, `properties.items.0.sku`) or a literal value, then optional
//! transforms. Nothing in a mapping can run code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const MAX_FIELDS: usize = 200;
const MAX_PATH_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Output field (dots make nested objects) -> where its value comes from.
    pub fields: BTreeMap<String, FieldRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldRule {
    /// A path into the event.
    Path(String),
    Rule {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        transforms: Vec<Transform>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Trim,
    Lowercase,
    Uppercase,
    /// Hex SHA-256 of the text, as ad platforms take customer lists.
    Sha256,
    /// Numbers and booleans as text.
    String,
}

impl Mapping {
    pub fn validate(&self) -> Result<(), String> {
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return Err(format!("mapping.fields must name 1 to {MAX_FIELDS} fields"));
        }
        for (output, rule) in &self.fields {
            if output.is_empty()
                || output.len() > MAX_PATH_CHARS
                || output.split('.').any(str::is_empty)
            {
                return Err(format!("mapping field `{output}` is not a dotted name"));
            }
            let path = match rule {
                FieldRule::Path(path) => Some(path),
                FieldRule::Rule { path, value, .. } => {
                    if path.is_some() == value.is_some() {
                        return Err(format!(
                            "mapping field `{output}` needs exactly one of `path` and `value`"
                        ));
                    }
                    path.as_ref()
                }
            };
            if let Some(path) = path
                && !valid_path(path)
            {
                return Err(format!(
                    "mapping field `{output}` has an invalid path `{path}`"
                ));
            }
        }
        // Two outputs where one is inside the other (`user` and `user.id`) cannot both be set.
        let names: Vec<&String> = self.fields.keys().collect();
        for pair in names.windows(2) {
            if pair[1].starts_with(&format!("{}.", pair[0])) {
                return Err(format!(
                    "mapping fields `{}` and `{}` overlap",
                    pair[0], pair[1]
                ));
            }
        }
        Ok(())
    }

    /// The mapped message. Fields whose path finds nothing are left out.
    pub fn apply(&self, message: &Value) -> Value {
        let mut output = Value::Object(Map::new());
        for (name, rule) in &self.fields {
            let (found, transforms) = match rule {
                FieldRule::Path(path) => (lookup(message, path).cloned(), &[][..]),
                FieldRule::Rule {
                    path,
                    value,
                    transforms,
                } => {
                    let found = match path {
                        Some(path) => lookup(message, path).cloned(),
                        None => value.clone(),
                    };
                    (found, transforms.as_slice())
                }
            };
            let Some(mut value) = found else {
                continue;
            };
            for transform in transforms {
                value = transform.apply(value);
            }
            insert(&mut output, name, value);
        }
        output
    }
}

/// A dotted path of non-empty steps, within the length limit.
fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.len() <= MAX_PATH_CHARS && !path.split('.').any(str::is_empty)
}

fn lookup<'v>(message: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(message, |value, step| match value {
            Value::Object(fields) => fields.get(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|at| items.get(at)),
            _ => None,
        })
}

fn insert(output: &mut Value, name: &str, value: Value) {
    let mut steps: Vec<&str> = name.split('.').collect();
    let last = steps.pop().unwrap_or(name);
    let mut at = output;
    for step in steps {
        // Validation keeps outputs from overlapping, so each step is an object.
        at = at
            .as_object_mut()
            .map(|fields| {
                fields
                    .entry(step)
                    .or_insert_with(|| Value::Object(Map::new()))
            })
            .expect("mapping outputs do not overlap");
    }
    if let Some(fields) = at.as_object_mut() {
        fields.insert(last.to_string(), value);
    }
}

impl Transform {
    fn apply(self, value: Value) -> Value {
        let text = match (&value, self) {
            (Value::String(text), _) => text.clone(),
            (Value::Number(_) | Value::Bool(_), Transform::String | Transform::Sha256) => {
                value.to_string()
            }
            // Case and whitespace mean nothing to numbers, objects or null.
            _ => return value,
        };
        Value::String(match self {
            Transform::Trim => text.trim().to_string(),
            Transform::Lowercase => text.to_lowercase(),
            Transform::Uppercase => text.to_uppercase(),
            Transform::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
            Transform::String => text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping(fields: Value) -> Mapping {
        serde_json::from_value(json!({ "fields": fields })).expect("mapping parses")
    }

    #[test]
    fn paths_literals_and_transforms_make_the_message() {
        let mapping = mapping(json!({
            "order.id": "properties.order_id",
            "order.first_sku": "properties.items.0.sku",
            "email_sha256": {"path": "context.traits.email", "transforms": ["trim", "lowercase", "sha256"]},
            "origin": {"value": "silta"},
            "missing": "properties.nothing",
        }));
        assert_eq!(mapping.validate(), Ok(()));
        let message = json!({
            "properties": {"order_id": "o-1", "items": [{"sku": "A"}]},
            "context": {"traits": {"email": "  Ada@Example.com "}},
        });
        assert_eq!(
            mapping.apply(&message),
            json!({
                "order": {"id": "o-1", "first_sku": "A"},
                // sha256("ada@example.com")
                "email_sha256": hex::encode(Sha256::digest(b"ada@example.com")),
                "origin": "silta",
            })
        );
    }

    #[test]
    fn overlapping_or_malformed_fields_are_refused() {
        assert!(
            mapping(json!({"user": "userId", "user.id": "userId"}))
                .validate()
                .is_err()
        );
        assert!(mapping(json!({"a..b": "userId"})).validate().is_err());
        assert!(
            mapping(json!({"a": {"path": "userId", "value": 1}}))
                .validate()
                .is_err()
        );
        assert!(mapping(json!({})).validate().is_err());
    }
}
