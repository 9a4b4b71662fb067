//! The condition tree of an audience (its JSON form) and the limits that keep a hostile
//! definition from costing the evaluator unbounded work.

use serde::{Deserialize, Serialize};

use super::quote;
use crate::filter::{Comparison, Field, Filter, FilterError, Window};

/// Deepest nesting of conditions, the whole definition being at depth 1.
pub const MAX_DEPTH: usize = 16;
/// Conditions and event filters of one definition, together: both cost the evaluator work.
pub const MAX_NODES: usize = 200;
/// An `and` or `or` of one condition has no text form, so a group needs two.
pub const MIN_GROUP_CHILDREN: usize = 2;
pub const MAX_GROUP_CHILDREN: usize = 50;
/// Event names, trait names, consent purposes and audience keys.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_COUNT: u64 = 1_000_000;
pub const MIN_SEQUENCE_STEPS: usize = 2;
pub const MAX_SEQUENCE_STEPS: usize = 8;

/// Who belongs to an audience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// Did, did not, at least or at most N times, optionally within a window.
    Event(EventCondition),
    /// "A then B (then C)": the steps happened in this order, optionally all within the window.
    Sequence(SequenceCondition),
    /// A profile trait or computed trait compared to a value, or its existence.
    Trait(TraitCondition),
    /// The person granted consent for this purpose.
    Consent(String),
    /// Member of another audience, by its key.
    InAudience(String),
}

/// Which events count: those of one name (any name when `None`) that pass every filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
}

// With a flattened member, serde checks for unknown fields once the flattened struct has
// taken its own; `json_refuses_unknown_fields` makes sure `{"event": {"nmae": "x"}}` is
// refused rather than read as any event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCondition {
    #[serde(flatten)]
    pub event: EventMatch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(default, skip_serializing_if = "CountCondition::is_at_least_once")]
    pub count: CountCondition,
}

/// How many matching events a person needs: `lt 1` means "did not".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountCondition {
    pub op: Comparison,
    pub value: u64,
}

impl CountCondition {
    pub const AT_LEAST_ONCE: CountCondition = CountCondition {
        op: Comparison::Gte,
        value: 1,
    };

    pub fn is_at_least_once(&self) -> bool {
        *self == CountCondition::AT_LEAST_ONCE
    }
}

impl Default for CountCondition {
    fn default() -> CountCondition {
        CountCondition::AT_LEAST_ONCE
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceCondition {
    pub steps: Vec<EventMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraitCondition {
    pub name: String,
    /// A computed trait rather than one the person's profile declares.
    #[serde(default)]
    pub computed: bool,
    pub op: TraitComparison,
    /// `None` exactly for `exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

/// The comparisons of a filter, plus whether the trait is set at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraitComparison {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    Exists,
}

impl TraitComparison {
    /// The value comparison, `None` for `exists`.
    pub fn comparison(self) -> Option<Comparison> {
        match self {
            TraitComparison::Eq => Some(Comparison::Eq),
            TraitComparison::Ne => Some(Comparison::Ne),
            TraitComparison::Gt => Some(Comparison::Gt),
            TraitComparison::Gte => Some(Comparison::Gte),
            TraitComparison::Lt => Some(Comparison::Lt),
            TraitComparison::Lte => Some(Comparison::Lte),
            TraitComparison::Contains => Some(Comparison::Contains),
            TraitComparison::Exists => None,
        }
    }
}

impl From<Comparison> for TraitComparison {
    fn from(comparison: Comparison) -> TraitComparison {
        match comparison {
            Comparison::Eq => TraitComparison::Eq,
            Comparison::Ne => TraitComparison::Ne,
            Comparison::Gt => TraitComparison::Gt,
            Comparison::Gte => TraitComparison::Gte,
            Comparison::Lt => TraitComparison::Lt,
            Comparison::Lte => TraitComparison::Lte,
            Comparison::Contains => TraitComparison::Contains,
        }
    }
}

/// A definition outside the limits, worded like a parse error so that the text form can
/// report it at the offending condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found {found}")]
pub struct AudienceError {
    pub expected: String,
    pub found: String,
}

impl AudienceError {
    fn new(expected: impl Into<String>, found: impl Into<String>) -> AudienceError {
        AudienceError {
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// The first condition outside the limits, as its index in pre-order (a group before its
/// children), which the parser maps back to a position in the text.
pub(super) struct Violation {
    pub node_index: usize,
    pub error: AudienceError,
}

/// What the validation has seen so far, across the whole tree.
#[derive(Default)]
struct Walk {
    conditions_seen: usize,
    nodes_seen: usize,
}

impl Condition {
    pub fn validate(&self) -> Result<(), AudienceError> {
        self.find_violation().map_err(|violation| violation.error)
    }

    pub(super) fn find_violation(&self) -> Result<(), Violation> {
        self.visit(1, &mut Walk::default())
    }

    /// Checks this condition, then its children; stops at the depth limit, so that a hostile
    /// tree is never recursed through.
    fn visit(&self, depth: usize, walk: &mut Walk) -> Result<(), Violation> {
        let node_index = walk.conditions_seen;
        walk.conditions_seen += 1;
        walk.nodes_seen += 1 + self.filter_count();
        let violation = |error| Violation { node_index, error };
        if depth > MAX_DEPTH {
            return Err(violation(AudienceError::new(
                format!("conditions nested at most {MAX_DEPTH} deep"),
                format!("a condition at depth {depth}"),
            )));
        }
        if walk.nodes_seen > MAX_NODES {
            return Err(violation(AudienceError::new(
                format!("at most {MAX_NODES} conditions and filters in all"),
                format!("at least {}", walk.nodes_seen),
            )));
        }
        self.check_own_limits().map_err(violation)?;
        for child in self.children() {
            child.visit(depth + 1, walk)?;
        }
        Ok(())
    }

    fn children(&self) -> &[Condition] {
        match self {
            Condition::And(children) | Condition::Or(children) => children,
            Condition::Not(inner) => std::slice::from_ref(&**inner),
            _ => &[],
        }
    }

    fn filter_count(&self) -> usize {
        match self {
            Condition::Event(event) => event.event.filters.len(),
            Condition::Sequence(sequence) => {
                sequence.steps.iter().map(|step| step.filters.len()).sum()
            }
            _ => 0,
        }
    }

    /// The limits of this condition alone, children aside.
    fn check_own_limits(&self) -> Result<(), AudienceError> {
        match self {
            Condition::And(children) => check_group_size("and", children),
            Condition::Or(children) => check_group_size("or", children),
            Condition::Not(_) => Ok(()),
            Condition::Event(event) => {
                event.event.check()?;
                check_window(event.window)?;
                check_count(event.count)
            }
            Condition::Sequence(sequence) => {
                let step_count = sequence.steps.len();
                if !(MIN_SEQUENCE_STEPS..=MAX_SEQUENCE_STEPS).contains(&step_count) {
                    return Err(AudienceError::new(
                        format!("a sequence of {MIN_SEQUENCE_STEPS} to {MAX_SEQUENCE_STEPS} steps"),
                        format!("{step_count} steps"),
                    ));
                }
                for step in &sequence.steps {
                    step.check()?;
                }
                check_window(sequence.window)
            }
            Condition::Trait(trait_condition) => trait_condition.check(),
            Condition::Consent(purpose) => check_name("a consent purpose", purpose),
            Condition::InAudience(key) => check_name("an audience key", key),
        }
    }

    /// The keys of the audiences this one is defined by, in order of first mention, so that
    /// the caller can refuse cycles.
    pub fn referenced_audiences(&self) -> Vec<&str> {
        let mut keys = Vec::new();
        self.collect_leaf_names(
            &|condition| match condition {
                Condition::InAudience(key) => Some(key),
                _ => None,
            },
            &mut keys,
        );
        keys
    }

    /// The consent purposes this definition asks about, in order of first mention.
    pub fn purposes(&self) -> Vec<&str> {
        let mut purposes = Vec::new();
        self.collect_leaf_names(
            &|condition| match condition {
                Condition::Consent(purpose) => Some(purpose),
                _ => None,
            },
            &mut purposes,
        );
        purposes
    }

    fn collect_leaf_names<'a>(
        &'a self,
        name_of: &impl Fn(&'a Condition) -> Option<&'a String>,
        names: &mut Vec<&'a str>,
    ) {
        if let Some(name) = name_of(self)
            && !names.contains(&name.as_str())
        {
            names.push(name);
        }
        for child in self.children() {
            child.collect_leaf_names(name_of, names);
        }
    }
}

impl EventMatch {
    fn check(&self) -> Result<(), AudienceError> {
        if let Some(name) = &self.name {
            check_name("an event name", name)?;
        }
        for filter in &self.filters {
            check_filter(filter)?;
        }
        Ok(())
    }
}

impl TraitCondition {
    fn check(&self) -> Result<(), AudienceError> {
        check_name("a trait name", &self.name)?;
        let is_trait_name_char = |character: char| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '$' | '-')
        };
        if !self.name.chars().all(is_trait_name_char) {
            return Err(AudienceError::new(
                "a trait name of letters, digits, '_', '.', '$' or '-'",
                quote(&self.name),
            ));
        }
        let Some(comparison) = self.op.comparison() else {
            return match &self.value {
                None => Ok(()),
                Some(value) => Err(AudienceError::new(
                    "no value after 'exists'",
                    quote(&value.to_string()),
                )),
            };
        };
        let Some(value) = &self.value else {
            return Err(AudienceError::new(
                format!("a value after '{}'", comparison.symbol()),
                "none",
            ));
        };
        match (comparison, value) {
            (_, serde_json::Value::String(_)) => Ok(()),
            (Comparison::Contains, other) => Err(AudienceError::new(
                "a string after 'contains'",
                quote(&other.to_string()),
            )),
            (_, serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => Ok(()),
            (_, other) => Err(AudienceError::new(
                "a string, number or boolean",
                quote(&other.to_string()),
            )),
        }
    }
}

fn check_group_size(operator: &str, children: &[Condition]) -> Result<(), AudienceError> {
    if (MIN_GROUP_CHILDREN..=MAX_GROUP_CHILDREN).contains(&children.len()) {
        return Ok(());
    }
    Err(AudienceError::new(
        format!("'{operator}' joining {MIN_GROUP_CHILDREN} to {MAX_GROUP_CHILDREN} conditions"),
        format!("{} conditions", children.len()),
    ))
}

fn check_name(what: &str, name: &str) -> Result<(), AudienceError> {
    let char_count = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&char_count) {
        return Ok(());
    }
    Err(AudienceError::new(
        format!("{what} of 1 to {MAX_NAME_CHARS} characters"),
        format!("{char_count} characters"),
    ))
}

fn check_count(count: CountCondition) -> Result<(), AudienceError> {
    if count.op == Comparison::Contains {
        return Err(AudienceError::new(
            "a comparison (=, !=, >, >=, <, <=) for a count",
            "'contains'",
        ));
    }
    if count.value > MAX_COUNT {
        return Err(AudienceError::new(
            format!("a count of at most {MAX_COUNT}"),
            count.value.to_string(),
        ));
    }
    Ok(())
}

fn check_window(window: Option<Window>) -> Result<(), AudienceError> {
    let Some(window) = window else {
        return Ok(());
    };
    window
        .validate()
        .map_err(|error| AudienceError::new("a valid window", error.to_string()))
}

fn check_filter(filter: &Filter) -> Result<(), AudienceError> {
    // A `Field` built in code rather than parsed could print as text that reads back as
    // another field, and the text form must read back as the same tree.
    let field_text = filter.field.to_string();
    match Field::parse(&field_text) {
        Ok(reparsed) if reparsed == filter.field => {}
        Ok(_) => {
            let error = FilterError::BadPath(field_text);
            return Err(AudienceError::new("a valid field", error.to_string()));
        }
        Err(error) => return Err(AudienceError::new("a valid field", error.to_string())),
    }
    filter
        .validate()
        .map_err(|error| AudienceError::new("a valid filter value", error.to_string()))
}
