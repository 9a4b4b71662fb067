//! Computed traits a user declares in configuration: the count, sum, minimum, maximum or last
//! value of an event property, over all time or the last N days. Each profile keeps one bucket
//! per day (or one in all), so a window slides without replaying events and merges add up.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use silta_model::Event;

/// Names of the built-in computed traits, which a declared one may not take.
pub const BUILT_IN_NAMES: [&str; 14] = [
    "first_seen",
    "last_seen",
    "event_count",
    "event_counts",
    "order_count",
    "total_revenue",
    "average_revenue",
    "channels",
    "sources",
    "first_touch",
    "last_touch",
    "last_page",
    "device_types",
    "identifier_count",
];

/// Declared traits at most, and the longest window.
pub const MAX_DECLARED: usize = 64;
pub const MAX_WINDOW_DAYS: u32 = 3650;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    Last,
}

/// One declared trait, e.g. `{name = "revenue_90d", function = "sum", event = "Order
/// Completed", property = "revenue", window_days = 90}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredTrait {
    pub name: String,
    pub function: Aggregate,
    /// The track event that counts; every event when absent.
    #[serde(default)]
    pub event: Option<String>,
    /// A top-level event property; needed by every function but `count` (which, given one,
    /// counts the events that carry it).
    #[serde(default)]
    pub property: Option<String>,
    /// Only events of the last this many days (UTC, today included) count; all time when
    /// absent.
    #[serde(default)]
    pub window_days: Option<u32>,
}

impl DeclaredTrait {
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if !crate::identifier::is_valid_type_name(name) {
            return Err(format!(
                "computed trait `{name}`: use lower-case letters, digits and _"
            ));
        }
        if BUILT_IN_NAMES.contains(&name.as_str()) {
            return Err(format!("computed trait `{name}` is built in"));
        }
        if self.function != Aggregate::Count && self.property.is_none() {
            return Err(format!("computed trait `{name}` needs a property"));
        }
        if let Some(days) = self
            .window_days
            .filter(|days| !(1..=MAX_WINDOW_DAYS).contains(days))
        {
            return Err(format!(
                "computed trait `{name}`: window_days {days} is not in 1..={MAX_WINDOW_DAYS}"
            ));
        }
        Ok(())
    }

    fn matches(&self, event: &Event) -> bool {
        self.event
            .as_deref()
            .is_none_or(|wanted| event.event.as_deref() == Some(wanted))
    }

    fn first_day(&self, today: i64) -> i64 {
        self.window_days
            .map_or(i64::MIN, |days| today - i64::from(days) + 1)
    }
}

/// Checks a list of declared traits: each valid, names unique, not too many.
pub fn validate_all(declared: &[DeclaredTrait]) -> Result<(), String> {
    if declared.len() > MAX_DECLARED {
        return Err(format!(
            "at most {MAX_DECLARED} computed traits can be declared"
        ));
    }
    for (index, item) in declared.iter().enumerate() {
        item.validate()?;
        if declared[..index]
            .iter()
            .any(|earlier| earlier.name == item.name)
        {
            return Err(format!("computed trait `{}` is declared twice", item.name));
        }
    }
    Ok(())
}

/// The UTC day number of a time, the key of its bucket.
pub fn day_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(86_400)
}

#[derive(Debug, Clone, PartialEq)]
struct Bucket {
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    last: Option<(DateTime<Utc>, Value)>,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
            last: None,
        }
    }

    fn add(&mut self, value: Option<&Value>, at: DateTime<Utc>) {
        self.count += 1;
        if let Some(number) = value.and_then(number_of) {
            self.sum += number;
            self.min = Some(self.min.map_or(number, |min| min.min(number)));
            self.max = Some(self.max.map_or(number, |max| max.max(number)));
        }
        if let Some(value) = value {
            self.add_last(at, value.clone());
        }
    }

    fn absorb(&mut self, other: Bucket) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = min_of(self.min, other.min, f64::min);
        self.max = min_of(self.max, other.max, f64::max);
        if let Some((at, value)) = other.last {
            self.add_last(at, value);
        }
    }

    fn add_last(&mut self, at: DateTime<Utc>, value: Value) {
        if self.last.as_ref().is_none_or(|(last_at, _)| *last_at <= at) {
            self.last = Some((at, value));
        }
    }
}

fn min_of(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// A number, or a string holding one (some senders quote amounts).
fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
    .filter(|number: &f64| number.is_finite())
}

/// One profile's buckets, one map per declared trait (in declaration order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeclaredValues(Vec<BTreeMap<i64, Bucket>>);

impl DeclaredValues {
    /// Counts the event into every declared trait it matches; `properties` is parsed at most
    /// once, and only when a trait needs it.
    pub fn observe(
        &mut self,
        declared: &[DeclaredTrait],
        event: &Event,
        properties: &mut Option<Map<String, Value>>,
        today: i64,
    ) {
        let day = day_of(event.timestamp);
        for (index, item) in declared.iter().enumerate() {
            if !item.matches(event) || day < item.first_day(today) {
                continue;
            }
            let value = match &item.property {
                Some(property) => {
                    let properties = properties.get_or_insert_with(|| {
                        serde_json::from_str(&event.properties).unwrap_or_default()
                    });
                    match properties.get(property) {
                        Some(value) => Some(value.clone()),
                        // Counting "events with the property" skips those without it.
                        None => continue,
                    }
                }
                None => None,
            };
            if self.0.len() < declared.len() {
                self.0.resize_with(declared.len(), BTreeMap::new);
            }
            let key = if item.window_days.is_some() { day } else { 0 };
            let buckets = &mut self.0[index];
            buckets
                .entry(key)
                .or_insert_with(Bucket::new)
                .add(value.as_ref(), event.timestamp);
            let first_day = item.first_day(today);
            while buckets
                .first_key_value()
                .is_some_and(|(day, _)| *day < first_day)
            {
                buckets.pop_first();
            }
        }
    }

    /// Folds another profile's buckets into these (a merge).
    pub fn absorb(&mut self, other: DeclaredValues) {
        if self.0.len() < other.0.len() {
            self.0.resize_with(other.0.len(), BTreeMap::new);
        }
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            for (day, bucket) in theirs {
                match mine.get_mut(&day) {
                    Some(existing) => existing.absorb(bucket),
                    None => {
                        mine.insert(day, bucket);
                    }
                }
            }
        }
    }

    /// The value of each declared trait as of `today` (count 0 and null when nothing matched).
    pub fn values(&self, declared: &[DeclaredTrait], today: i64) -> Vec<(String, Value)> {
        declared
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let mut total = Bucket::new();
                let first_day = item.first_day(today);
                for (_, bucket) in self
                    .0
                    .get(index)
                    .into_iter()
                    .flat_map(|buckets| buckets.range(first_day..))
                {
                    total.absorb(bucket.clone());
                }
                let value = match item.function {
                    Aggregate::Count => Value::from(total.count),
                    Aggregate::Sum => Value::from(total.sum),
                    Aggregate::Min => total.min.map_or(Value::Null, Value::from),
                    Aggregate::Max => total.max.map_or(Value::Null, Value::from),
                    Aggregate::Last => total.last.map_or(Value::Null, |(_, value)| value),
                };
                (item.name.clone(), value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(day: u32, revenue: Value) -> Event {
        Event {
            event: Some("Order Completed".to_string()),
            timestamp: DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T12:00:00Z"))
                .expect("a valid time")
                .with_timezone(&Utc),
            properties: serde_json::json!({"revenue": revenue, "sku": format!("sku-{day}")})
                .to_string(),
            ..Event::default()
        }
    }

    fn declared(
        function: Aggregate,
        property: Option<&str>,
        window_days: Option<u32>,
    ) -> DeclaredTrait {
        DeclaredTrait {
            name: "t".to_string(),
            function,
            event: Some("Order Completed".to_string()),
            property: property.map(str::to_string),
            window_days,
        }
    }

    fn value_after(item: &DeclaredTrait, events: &[Event], today: u32) -> Value {
        let today = day_of(order(today, Value::Null).timestamp);
        let mut values = DeclaredValues::default();
        for event in events {
            values.observe(std::slice::from_ref(item), event, &mut None, today);
        }
        values.values(std::slice::from_ref(item), today)[0]
            .1
            .clone()
    }

    #[test]
    fn aggregates_count_only_the_window() {
        let events = [
            order(1, serde_json::json!(10)),
            order(20, serde_json::json!("25.5")),
            order(21, serde_json::json!(4)),
        ];
        let week = Some(7);
        assert_eq!(
            value_after(&declared(Aggregate::Count, None, None), &events, 22),
            3
        );
        assert_eq!(
            value_after(&declared(Aggregate::Count, None, week), &events, 22),
            2
        );
        assert_eq!(
            value_after(
                &declared(Aggregate::Sum, Some("revenue"), week),
                &events,
                22
            ),
            29.5
        );
        assert_eq!(
            value_after(
                &declared(Aggregate::Min, Some("revenue"), None),
                &events,
                22
            ),
            4.0
        );
        assert_eq!(
            value_after(
                &declared(Aggregate::Max, Some("revenue"), None),
                &events,
                22
            ),
            25.5
        );
        assert_eq!(
            value_after(&declared(Aggregate::Last, Some("sku"), None), &events, 22),
            "sku-21"
        );
        // A week later the window has slid past every order.
        assert_eq!(
            value_after(&declared(Aggregate::Count, None, week), &events, 29),
            0
        );
        assert_eq!(
            value_after(
                &declared(Aggregate::Max, Some("revenue"), week),
                &events,
                29
            ),
            Value::Null
        );
    }

    #[test]
    fn merged_buckets_add_up() {
        let item = declared(Aggregate::Sum, Some("revenue"), Some(30));
        let today = day_of(order(22, Value::Null).timestamp);
        let (mut a, mut b) = (DeclaredValues::default(), DeclaredValues::default());
        a.observe(
            std::slice::from_ref(&item),
            &order(20, 5.into()),
            &mut None,
            today,
        );
        b.observe(
            std::slice::from_ref(&item),
            &order(20, 7.into()),
            &mut None,
            today,
        );
        b.observe(
            std::slice::from_ref(&item),
            &order(21, 1.into()),
            &mut None,
            today,
        );
        a.absorb(b);
        assert_eq!(a.values(std::slice::from_ref(&item), today)[0].1, 13.0);
    }

    #[test]
    fn declarations_are_checked() {
        assert!(declared(Aggregate::Sum, None, None).validate().is_err());
        assert!(
            declared(Aggregate::Count, None, Some(0))
                .validate()
                .is_err()
        );
        let mut built_in = declared(Aggregate::Count, None, None);
        built_in.name = "event_count".to_string();
        assert!(built_in.validate().is_err());
        let twice = [
            declared(Aggregate::Count, None, None),
            declared(Aggregate::Count, None, None),
        ];
        assert!(validate_all(&twice).is_err());
    }
}
