//! An experiment's definition and the assignment of one person to a variant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bucket::{Namespace, bucket_ranges, choose_variation, hash, in_namespace};

/// Variations an experiment may have at most.
pub const MAX_VARIATIONS: usize = 20;
const MAX_KEY_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Also the default hash seed, as in GrowthBook.
    pub key: String,
    /// Variation names, control first.
    pub variations: Vec<String>,
    /// One per variation, adding up to 1; equal when absent.
    #[serde(default)]
    pub weights: Option<Vec<f64>>,
    /// Share of people in the experiment, 0..=1.
    #[serde(default = "full_coverage")]
    pub coverage: f64,
    #[serde(default)]
    pub hash_seed: Option<String>,
    /// 1 (GrowthBook's original) or 2 (unbiased, the default).
    #[serde(default = "hash_version_two")]
    pub hash_version: u32,
    #[serde(default)]
    pub namespace: Option<Namespace>,
    /// The identifier type whose value is hashed (`user_id`: sticky across devices once a
    /// person has logged in), and the one used when the person has none of it.
    #[serde(default = "user_id")]
    pub hash_attribute: String,
    #[serde(default = "anonymous_id")]
    pub fallback_attribute: Option<String>,
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub stop: Option<DateTime<Utc>>,
    /// What the results measure, computed from events after each person's first exposure.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

/// Metrics an experiment may have at most.
pub const MAX_METRICS: usize = 20;

/// A metric over events a person sends after their first exposure, within `window_hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    /// The event name counted.
    pub event: String,
    /// For `mean`: the numeric property summed per person (e.g. `revenue`).
    #[serde(default)]
    pub property: Option<String>,
    #[serde(default = "three_days")]
    pub window_hours: u32,
    /// For `mean`, `count` and a ratio's numerator: a person's value is capped here
    /// (winsorisation).
    #[serde(default)]
    pub cap: Option<f64>,
    /// For `ratio`: what the metric is divided by, per person over the same window.
    #[serde(default)]
    pub denominator: Option<Denominator>,
}

/// A ratio's denominator: how often a person did `event`, or the sum of its `property`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denominator {
    pub event: String,
    #[serde(default)]
    pub property: Option<String>,
}

fn three_days() -> u32 {
    72
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Did the event at least once: a proportion.
    Conversion,
    /// How many times: a mean per person.
    Count,
    /// The sum of a property: a mean per person.
    Mean,
    /// The sum of a property (or the count of the event) over the denominator's, e.g. revenue
    /// per session: the ratio of the totals, with the delta method.
    Ratio,
}

fn full_coverage() -> f64 {
    1.0
}

fn hash_version_two() -> u32 {
    2
}

fn user_id() -> String {
    "user_id".to_string()
}

fn anonymous_id() -> Option<String> {
    Some("anonymous_id".to_string())
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DefinitionError {
    #[error("the key must be 1 to {MAX_KEY_CHARS} characters of letters, digits, `-`, `_` or `.`")]
    Key,
    #[error("an experiment needs 2 to {MAX_VARIATIONS} variations")]
    Variations,
    #[error("weights must be one per variation, each between 0 and 1, adding up to 1")]
    Weights,
    #[error("coverage must be between 0 and 1")]
    Coverage,
    #[error("hash_version must be 1 or 2")]
    HashVersion,
    #[error("a namespace range must lie within 0..1 and start before it ends")]
    Namespace,
    #[error("start must come before stop")]
    Period,
    #[error(
        "at most {MAX_METRICS} metrics, each with a name, an event, a window of 1 to 8760 hours, a positive cap, a property for a mean, and a denominator with an event for a ratio (and only for a ratio)"
    )]
    Metric,
}

/// Where one person landed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub in_experiment: bool,
    pub variation: Option<usize>,
    pub variation_name: Option<String>,
    /// The identifier type that was hashed.
    pub hashed: Option<String>,
    /// Why the person is not in the experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl Assignment {
    fn out(reason: &'static str, hashed: Option<String>) -> Assignment {
        Assignment {
            in_experiment: false,
            variation: None,
            variation_name: None,
            hashed,
            reason: Some(reason),
        }
    }
}

impl Experiment {
    pub fn validate(&self) -> Result<(), DefinitionError> {
        let key_ok = !self.key.is_empty()
            && self.key.chars().count() <= MAX_KEY_CHARS
            && self
                .key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !key_ok {
            return Err(DefinitionError::Key);
        }
        if !(2..=MAX_VARIATIONS).contains(&self.variations.len()) {
            return Err(DefinitionError::Variations);
        }
        if let Some(weights) = &self.weights {
            let total: f64 = weights.iter().sum();
            let valid = weights.len() == self.variations.len()
                && weights.iter().all(|weight| (0.0..=1.0).contains(weight))
                && (0.99..=1.01).contains(&total);
            if !valid {
                return Err(DefinitionError::Weights);
            }
        }
        if !(0.0..=1.0).contains(&self.coverage) {
            return Err(DefinitionError::Coverage);
        }
        if !matches!(self.hash_version, 1 | 2) {
            return Err(DefinitionError::HashVersion);
        }
        if let Some(namespace) = &self.namespace
            && !(0.0 <= namespace.start && namespace.start < namespace.end && namespace.end <= 1.0)
        {
            return Err(DefinitionError::Namespace);
        }
        if let (Some(start), Some(stop)) = (self.start, self.stop)
            && start >= stop
        {
            return Err(DefinitionError::Period);
        }
        let metric_ok = |metric: &Metric| {
            !metric.name.is_empty()
                && !metric.event.is_empty()
                && (1..=8_760).contains(&metric.window_hours)
                && metric.cap.is_none_or(|cap| cap > 0.0)
                && (metric.kind != MetricKind::Mean || metric.property.is_some())
                && match (&metric.kind, &metric.denominator) {
                    (MetricKind::Ratio, Some(denominator)) => !denominator.event.is_empty(),
                    (MetricKind::Ratio, None) => false,
                    (_, denominator) => denominator.is_none(),
                }
        };
        if self.metrics.len() > MAX_METRICS || !self.metrics.iter().all(metric_ok) {
            return Err(DefinitionError::Metric);
        }
        Ok(())
    }

    /// Assigns the person whose identifiers are `(type, value)` pairs, at `now`.
    pub fn assign(&self, identifiers: &[(String, String)], now: DateTime<Utc>) -> Assignment {
        if self.start.is_some_and(|start| now < start) {
            return Assignment::out("not started", None);
        }
        if self.stop.is_some_and(|stop| now >= stop) {
            return Assignment::out("stopped", None);
        }
        let by_type = |kind: &str| {
            identifiers
                .iter()
                .find(|(identifier_type, _)| identifier_type == kind)
        };
        let Some((kind, value)) = by_type(&self.hash_attribute)
            .or_else(|| self.fallback_attribute.as_deref().and_then(by_type))
        else {
            return Assignment::out("no identifier to hash", None);
        };
        let hashed = Some(kind.clone());
        if let Some(namespace) = &self.namespace
            && !in_namespace(value, namespace)
        {
            return Assignment::out("outside the namespace", hashed);
        }
        let seed = self.hash_seed.as_deref().unwrap_or(&self.key);
        let Some(n) = hash(seed, value, self.hash_version) else {
            return Assignment::out("unknown hash version", hashed);
        };
        let ranges = bucket_ranges(
            self.variations.len(),
            self.coverage,
            self.weights.as_deref(),
        );
        match choose_variation(n, &ranges) {
            Some(variation) => Assignment {
                in_experiment: true,
                variation: Some(variation),
                variation_name: self.variations.get(variation).cloned(),
                hashed,
                reason: None,
            },
            None => Assignment::out("outside the coverage", hashed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment() -> Experiment {
        serde_json::from_str(r#"{"key": "checkout-button", "variations": ["control", "green"]}"#)
            .expect("defaults fill the rest")
    }

    fn ids(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(kind, value)| (kind.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn assignment_hashes_the_user_id_when_known_and_is_stable() {
        let experiment = experiment();
        experiment.validate().expect("valid");
        let now = Utc::now();
        let on_phone =
            experiment.assign(&ids(&[("anonymous_id", "phone"), ("user_id", "u-7")]), now);
        let on_laptop =
            experiment.assign(&ids(&[("user_id", "u-7"), ("anonymous_id", "laptop")]), now);
        assert!(on_phone.in_experiment);
        assert_eq!(on_phone, on_laptop, "sticky by user id across devices");
        assert_eq!(on_phone.hashed.as_deref(), Some("user_id"));
        let anonymous = experiment.assign(&ids(&[("anonymous_id", "phone")]), now);
        assert_eq!(anonymous.hashed.as_deref(), Some("anonymous_id"));
        let expected = choose_variation(
            hash("checkout-button", "u-7", 2).expect("v2"),
            &bucket_ranges(2, 1.0, None),
        );
        assert_eq!(
            on_phone.variation, expected,
            "GrowthBook's own functions agree"
        );
    }

    #[test]
    fn weights_split_people_in_proportion_and_coverage_leaves_the_rest_out() {
        let mut experiment = experiment();
        experiment.weights = Some(vec![0.2, 0.8]);
        experiment.coverage = 0.5;
        let now = Utc::now();
        let mut counts = [0usize; 3];
        for person in 0..20_000 {
            let assignment = experiment.assign(&ids(&[("user_id", &format!("u-{person}"))]), now);
            counts[assignment.variation.unwrap_or(2)] += 1;
        }
        let share = |count: usize| count as f64 / 20_000.0;
        assert!((share(counts[0]) - 0.1).abs() < 0.01, "{counts:?}");
        assert!((share(counts[1]) - 0.4).abs() < 0.015, "{counts:?}");
        assert!((share(counts[2]) - 0.5).abs() < 0.015, "{counts:?}");
    }

    #[test]
    fn invalid_definitions_and_periods_are_refused() {
        let mut bad = experiment();
        bad.variations = vec!["only".to_string()];
        assert_eq!(bad.validate(), Err(DefinitionError::Variations));
        let mut bad = experiment();
        bad.weights = Some(vec![0.5, 0.6]);
        assert_eq!(bad.validate(), Err(DefinitionError::Weights));
        let mut bad = experiment();
        bad.key = "a b".to_string();
        assert_eq!(bad.validate(), Err(DefinitionError::Key));
        let ratio = |denominator: Option<Denominator>| Metric {
            name: "revenue per session".to_string(),
            kind: MetricKind::Ratio,
            event: "Order Completed".to_string(),
            property: Some("revenue".to_string()),
            window_hours: 72,
            cap: None,
            denominator,
        };
        let mut good = experiment();
        good.metrics = vec![ratio(Some(Denominator {
            event: "Session Started".to_string(),
            property: None,
        }))];
        assert_eq!(good.validate(), Ok(()));
        let mut bad = experiment();
        bad.metrics = vec![ratio(None)];
        assert_eq!(
            bad.validate(),
            Err(DefinitionError::Metric),
            "a ratio needs a denominator"
        );
        let mut bad = good.clone();
        bad.metrics[0].kind = MetricKind::Mean;
        assert_eq!(
            bad.validate(),
            Err(DefinitionError::Metric),
            "only a ratio has one"
        );
        let mut later = experiment();
        later.start = Some(Utc::now() + chrono::Duration::days(1));
        assert_eq!(
            later.assign(&ids(&[("user_id", "u")]), Utc::now()).reason,
            Some("not started")
        );
    }
}
