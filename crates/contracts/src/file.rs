//! Plans as files (YAML or JSON) that teams keep in git: reading reports every problem at once
//! with its line and column; writing gives a stable, readable document.

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, Yaml, YamlData, YamlEmitter};
use serde_json::{Map, Number, Value};

use crate::plan::TrackingPlan;
use crate::problems::{Problem, escape_pointer, schema_problems, structure_problems};

/// Largest plan file read.
pub const MAX_PLAN_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting read from a plan file.
const MAX_DEPTH: usize = 64;

/// Reads a plan from YAML or JSON (JSON is read as YAML, of which it is a subset), validating
/// all of it. Problems carry 1-based lines and columns.
pub fn parse_plan(text: &str) -> Result<TrackingPlan, Vec<Problem>> {
    if text.len() > MAX_PLAN_BYTES {
        return Err(vec![Problem::at(
            "",
            format!("plan is larger than {MAX_PLAN_BYTES} bytes"),
        )]);
    }
    let documents = MarkedYaml::load_from_str(text).map_err(|error| {
        vec![Problem {
            path: String::new(),
            line: Some(error.marker().line()),
            column: Some(error.marker().col() + 1),
            message: error.info().to_string(),
        }]
    })?;
    let [document] = documents.as_slice() else {
        return Err(vec![Problem::at(
            "",
            format!("expected one document, found {}", documents.len()),
        )]);
    };
    let mut positions = HashMap::new();
    let mut problems = Vec::new();
    let value = to_json(document, String::new(), 0, &mut positions, &mut problems);
    if problems.is_empty() {
        problems = structure_problems(&value);
    }
    let plan = if problems.is_empty() {
        match serde_json::from_value::<TrackingPlan>(value) {
            Ok(plan) => {
                problems = schema_problems(&plan);
                Some(plan)
            }
            Err(error) => {
                problems.push(Problem::at("", error.to_string()));
                None
            }
        }
    } else {
        None
    };
    match plan {
        Some(plan) if problems.is_empty() => Ok(plan),
        _ => Err(problems
            .into_iter()
            .map(|problem| locate(problem, &positions))
            .collect()),
    }
}

/// Gives a problem the position of the deepest node its pointer reaches.
fn locate(mut problem: Problem, positions: &HashMap<String, (usize, usize)>) -> Problem {
    let mut path = problem.path.as_str();
    loop {
        if let Some(&(line, column)) = positions.get(path) {
            problem.line = Some(line);
            problem.column = Some(column);
            return problem;
        }
        match path.rfind('/') {
            Some(cut) => path = &path[..cut],
            None => return problem,
        }
    }
}

fn to_json(
    node: &MarkedYaml<'_>,
    pointer: String,
    depth: usize,
    positions: &mut HashMap<String, (usize, usize)>,
    problems: &mut Vec<Problem>,
) -> Value {
    positions.insert(
        pointer.clone(),
        (node.span.start.line(), node.span.start.col() + 1),
    );
    if depth > MAX_DEPTH {
        problems.push(Problem::at(
            pointer,
            format!("nested deeper than {MAX_DEPTH}"),
        ));
        return Value::Null;
    }
    match &node.data {
        YamlData::Value(scalar) => scalar_to_json(scalar),
        YamlData::Sequence(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    to_json(
                        item,
                        format!("{pointer}/{index}"),
                        depth + 1,
                        positions,
                        problems,
                    )
                })
                .collect(),
        ),
        YamlData::Mapping(entries) => {
            let mut object = Map::new();
            for (key, item) in entries {
                let key = match &key.data {
                    YamlData::Value(Scalar::String(text)) => text.to_string(),
                    YamlData::Value(scalar) => match scalar_to_json(scalar) {
                        Value::String(text) => text,
                        other => other.to_string(),
                    },
                    _ => {
                        problems.push(Problem::at(pointer.clone(), "keys must be plain text"));
                        continue;
                    }
                };
                let child = format!("{pointer}/{}", escape_pointer(&key));
                let value = to_json(item, child, depth + 1, positions, problems);
                object.insert(key, value);
            }
            Value::Object(object)
        }
        YamlData::Tagged(_, inner) => to_json(inner, pointer, depth, positions, problems),
        YamlData::Alias(_) | YamlData::Representation(..) | YamlData::BadValue => {
            problems.push(Problem::at(
                pointer,
                "anchors, aliases and unparsable values are not supported",
            ));
            Value::Null
        }
    }
}

fn scalar_to_json(scalar: &Scalar<'_>) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(flag) => Value::Bool(*flag),
        Scalar::Integer(number) => Value::Number((*number).into()),
        Scalar::FloatingPoint(number) => {
            Number::from_f64(number.into_inner()).map_or(Value::Null, Value::Number)
        }
        Scalar::String(text) => Value::String(text.to_string()),
    }
}

/// Keys people look for first come first; the rest follow alphabetically.
const LEADING_KEYS: [&str; 9] = [
    "name",
    "type",
    "description",
    "owner",
    "required",
    "properties",
    "traits",
    "classification",
    "events",
];

fn readable_order(fields: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut ordered: Vec<(&String, &Value)> = fields.iter().collect();
    ordered.sort_by_key(|(key, _)| {
        LEADING_KEYS
            .iter()
            .position(|leading| leading == key)
            .unwrap_or(LEADING_KEYS.len())
    });
    ordered
}

/// The plan as YAML, the keys people look for first at the top of each mapping.
pub fn plan_to_yaml(plan: &TrackingPlan) -> String {
    let value = serde_json::to_value(plan).unwrap_or(Value::Null);
    let mut text = String::new();
    let mut emitter = YamlEmitter::new(&mut text);
    emitter.multiline(true);
    // Writing to a String cannot fail.
    let _ = emitter.dump(&json_to_yaml(&value));
    let mut text = text
        .strip_prefix("---\n")
        .map(str::to_string)
        .unwrap_or(text);
    text.push('\n');
    text
}

fn json_to_yaml(value: &Value) -> Yaml<'static> {
    match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(flag) => Yaml::Value(Scalar::Boolean(*flag)),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Yaml::Value(Scalar::Integer(integer)),
            None => Yaml::Value(Scalar::FloatingPoint(number.as_f64().unwrap_or(0.0).into())),
        },
        Value::String(text) => Yaml::Value(Scalar::String(text.clone().into())),
        Value::Array(items) => Yaml::Sequence(items.iter().map(json_to_yaml).collect()),
        Value::Object(fields) => Yaml::Mapping(
            readable_order(fields)
                .into_iter()
                .map(|(key, item)| {
                    (
                        Yaml::Value(Scalar::String(key.clone().into())),
                        json_to_yaml(item),
                    )
                })
                .collect(),
        ),
    }
}
