//! A/B experiments: assignment compatible with GrowthBook's SDKs, so that a person gets the
//! same variant from Silta and from any GrowthBook SDK given the same key, seed and weights.

mod bayesian;
mod bucket;
mod corrections;
mod definition;
#[cfg(test)]
mod fixtures;
mod statistic;
mod stats;

pub use bayesian::{BayesianConfig, BayesianResult, Prior, bayesian_test};
pub use bucket::{Namespace, bucket_ranges, choose_variation, equal_weights, hash, in_namespace};
pub use corrections::{benjamini_hochberg, holm_bonferroni};
pub use definition::{
    Assignment, DefinitionError, Denominator, Experiment, MAX_METRICS, MAX_VARIATIONS, Metric,
    MetricKind,
};
pub use statistic::{Component, Statistic};
pub use stats::{Difference, TestConfig, TestResult, sample_ratio_mismatch, two_sided_test};
