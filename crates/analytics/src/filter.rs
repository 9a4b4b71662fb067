//! Conditions on one event's fields and time windows, shared by funnel steps, audience
//! behaviour and attribution. A field is either an event column or a path into one of the
//! event's JSON documents (`properties.plan`, `context.campaign.source`).

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Event columns a condition may name directly.
pub const EVENT_COLUMNS: &[&str] = &[
    "event",
    "name",
    "type",
    "source",
    "channel",
    "page_url",
    "page_path",
    "page_referrer",
    "page_title",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "revenue",
    "currency",
    "user_agent",
];

/// Longest JSON path a field may name.
const MAX_PATH_SEGMENTS: usize = 8;
const MAX_SEGMENT_LENGTH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "unknown field '{0}': use an event column ({columns}) or properties.*, context.*, traits.*",
        columns = EVENT_COLUMNS.join(", ")
    )]
    UnknownField(String),
    #[error("field '{0}' has an empty, overlong or too deep path")]
    BadPath(String),
    #[error("a filter value must be a string, number or boolean, not {0}")]
    BadValue(String),
    #[error("'contains' needs a string value")]
    ContainsNeedsString,
    #[error("window: 'from' ({from}) must not be after 'to' ({to})")]
    EmptyWindow { from: NaiveDate, to: NaiveDate },
    #[error("window: last_days must be between 1 and 36600, not {0}")]
    BadLastDays(u32),
}

/// The JSON documents of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Document {
    Properties,
    Context,
    Traits,
}

impl Document {
    pub fn column(self) -> &'static str {
        match self {
            Document::Properties => "properties",
            Document::Context => "context",
            Document::Traits => "traits",
        }
    }
}

/// What a filter reads from an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Field {
    Column(String),
    Json {
        document: Document,
        path: Vec<String>,
    },
}

impl Field {
    pub fn parse(text: &str) -> Result<Field, FilterError> {
        if let Some(column) = EVENT_COLUMNS.iter().find(|column| **column == text) {
            return Ok(Field::Column(column.to_string()));
        }
        let (head, rest) = text
            .split_once('.')
            .ok_or_else(|| FilterError::UnknownField(text.to_string()))?;
        let document = match head {
            "properties" => Document::Properties,
            "context" => Document::Context,
            "traits" => Document::Traits,
            _ => return Err(FilterError::UnknownField(text.to_string())),
        };
        let path: Vec<String> = rest.split('.').map(str::to_string).collect();
        let well_formed = path.len() <= MAX_PATH_SEGMENTS
            && path
                .iter()
                .all(|segment| !segment.is_empty() && segment.len() <= MAX_SEGMENT_LENGTH);
        if !well_formed {
            return Err(FilterError::BadPath(text.to_string()));
        }
        Ok(Field::Json { document, path })
    }
}

impl TryFrom<String> for Field {
    type Error = FilterError;

    fn try_from(text: String) -> Result<Field, FilterError> {
        Field::parse(&text)
    }
}

impl From<Field> for String {
    fn from(field: Field) -> String {
        field.to_string()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Column(column) => formatter.write_str(column),
            Field::Json { document, path } => {
                write!(formatter, "{}.{}", document.column(), path.join("."))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Substring of a text value.
    Contains,
}

impl Comparison {
    /// The operator as the audience text form writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::Ne => "!=",
            Comparison::Gt => ">",
            Comparison::Gte => ">=",
            Comparison::Lt => "<",
            Comparison::Lte => "<=",
            Comparison::Contains => "contains",
        }
    }

    /// Whether `left <op> right` holds for two ordered values.
    pub fn holds<T: PartialOrd>(self, left: &T, right: &T) -> bool {
        match self {
            Comparison::Eq => left == right,
            Comparison::Ne => left != right,
            Comparison::Gt => left > right,
            Comparison::Gte => left >= right,
            Comparison::Lt => left < right,
            Comparison::Lte => left <= right,
            Comparison::Contains => false,
        }
    }
}

/// `field op value`, e.g. `properties.plan = "pro"`. A missing field never matches (not even `!=`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub field: Field,
    pub op: Comparison,
    pub value: serde_json::Value,
}

impl Filter {
    pub fn validate(&self) -> Result<(), FilterError> {
        match (&self.value, self.op) {
            (serde_json::Value::String(_), _) => Ok(()),
            (_, Comparison::Contains) => Err(FilterError::ContainsNeedsString),
            (serde_json::Value::Number(_) | serde_json::Value::Bool(_), _) => Ok(()),
            (other, _) => Err(FilterError::BadValue(json_kind(other).to_string())),
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// When something happened: in the last N days before the evaluation time, or between two
/// dates (UTC, both inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Window {
    Last { last_days: u32 },
    Between { from: NaiveDate, to: NaiveDate },
}

impl Window {
    pub fn validate(&self) -> Result<(), FilterError> {
        match *self {
            Window::Last { last_days } if !(1..=36_600).contains(&last_days) => {
                Err(FilterError::BadLastDays(last_days))
            }
            Window::Between { from, to } if from > to => Err(FilterError::EmptyWindow { from, to }),
            _ => Ok(()),
        }
    }

    /// `[start, end)` in microseconds since the epoch, for evaluation at `now_micros`.
    pub fn bounds(&self, now_micros: i64) -> (i64, i64) {
        const DAY: i64 = 86_400_000_000;
        match *self {
            Window::Last { last_days } => (now_micros - i64::from(last_days) * DAY, now_micros),
            Window::Between { from, to } => (day_start_micros(from), day_start_micros(to) + DAY),
        }
    }
}

fn day_start_micros(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|time| time.and_utc().timestamp_micros())
        .unwrap_or(i64::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_columns_and_json_paths() {
        assert_eq!(Field::parse("channel"), Ok(Field::Column("channel".into())));
        assert_eq!(
            Field::parse("context.campaign.source"),
            Ok(Field::Json {
                document: Document::Context,
                path: vec!["campaign".into(), "source".into()]
            })
        );
        assert!(matches!(
            Field::parse("password"),
            Err(FilterError::UnknownField(_))
        ));
        assert!(matches!(
            Field::parse("properties..x"),
            Err(FilterError::BadPath(_))
        ));
        assert_eq!(
            Field::parse("properties.plan")
                .map(|field| field.to_string())
                .as_deref(),
            Ok("properties.plan")
        );
    }

    #[test]
    fn windows_parse_both_forms_and_bound_days() {
        let last: Window = serde_json::from_str(r#"{"last_days": 7}"#).expect("last");
        assert_eq!(
            last.bounds(10 * 86_400_000_000),
            (3 * 86_400_000_000, 10 * 86_400_000_000)
        );
        let between: Window =
            serde_json::from_str(r#"{"from": "1970-01-02", "to": "1970-01-02"}"#).expect("between");
        assert_eq!(between.bounds(0), (86_400_000_000, 2 * 86_400_000_000));
        let backwards: Window =
            serde_json::from_str(r#"{"from": "1970-01-03", "to": "1970-01-02"}"#).expect("parse");
        assert!(backwards.validate().is_err());
    }

    #[test]
    fn filter_values_are_scalars() {
        let filter: Filter =
            serde_json::from_str(r#"{"field": "revenue", "op": "gt", "value": [1]}"#)
                .expect("parse");
        assert!(filter.validate().is_err());
        let contains: Filter =
            serde_json::from_str(r#"{"field": "page_path", "op": "contains", "value": 3}"#)
                .expect("parse");
        assert_eq!(contains.validate(), Err(FilterError::ContainsNeedsString));
    }
}
