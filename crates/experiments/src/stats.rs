//! Frequentist analysis of one variation against control, as GrowthBook's stats engine
//! (gbstats) computes it: Welch's t-test with the delta method for relative lift, always-valid
//! confidence sequences for sequential testing, and the sample ratio mismatch check. The
//! distributions come from `statrs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, StudentsT};

/// Summary statistics of one metric in one variation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Statistic {
    /// A mean: units, sum and sum of squares of the metric's values.
    Mean { n: u64, sum: f64, sum_squares: f64 },
    /// A conversion rate: units and how many converted.
    Proportion { n: u64, sum: f64 },
}

impl Statistic {
    pub fn n(&self) -> f64 {
        match *self {
            Statistic::Mean { n, .. } | Statistic::Proportion { n, .. } => n as f64,
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Statistic::Mean { n: 0, .. } | Statistic::Proportion { n: 0, .. } => 0.0,
            Statistic::Mean { sum, .. } | Statistic::Proportion { sum, .. } => sum / self.n(),
        }
    }

    /// The sample variance (for a proportion, p(1 - p)).
    pub fn variance(&self) -> f64 {
        match *self {
            Statistic::Mean {
                n,
                sum,
                sum_squares,
            } => {
                if n <= 1 {
                    return 0.0;
                }
                (sum_squares - sum * sum / n as f64) / (n as f64 - 1.0)
            }
            Statistic::Proportion { .. } => self.mean() * (1.0 - self.mean()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    /// (treatment - control) / control
    #[default]
    Relative,
    /// treatment - control
    Absolute,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestConfig {
    pub alpha: f64,
    pub difference: Difference,
    /// `Some(tuning)`: always-valid confidence sequences (peeking is safe); gbstats' default
    /// tuning parameter is 5,000.
    pub sequential_tuning: Option<f64>,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            alpha: 0.05,
            difference: Difference::Relative,
            sequential_tuning: None,
        }
    }
}

/// One variation against control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// The lift: relative or absolute as configured.
    pub expected: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
    /// Standard deviation of the lift's normal approximation.
    pub stddev: f64,
    /// Why no result could be computed (then the other fields are uninformative).
    pub error: Option<String>,
}

impl TestResult {
    fn uninformative(error: &str) -> TestResult {
        TestResult {
            expected: 0.0,
            ci: [0.0, 0.0],
            p_value: 1.0,
            stddev: 0.0,
            error: Some(error.to_string()),
        }
    }
}

/// Welch's two-sided t-test of `treatment` against `control` (gbstats' `TwoSidedTTest`, or
/// `SequentialTwoSidedTTest` with a tuning parameter).
pub fn two_sided_test(
    control: &Statistic,
    treatment: &Statistic,
    config: &TestConfig,
) -> TestResult {
    let (mean_a, mean_b) = (control.mean(), treatment.mean());
    let (var_a, var_b) = (control.variance(), treatment.variance());
    let (n_a, n_b) = (control.n(), treatment.n());
    if mean_a == 0.0 {
        return TestResult::uninformative("the control's mean is zero");
    }
    if var_a <= 0.0 || var_b <= 0.0 {
        return TestResult::uninformative("a variation has zero or negative variance");
    }
    let relative = config.difference == Difference::Relative;
    let expected = if relative {
        (mean_b - mean_a) / mean_a
    } else {
        mean_b - mean_a
    };
    // The delta method for the ratio of two means.
    let variance = if relative {
        var_b / (mean_a.powi(2) * n_b) + var_a * mean_b.powi(2) / (mean_a.powi(4) * n_a)
    } else {
        var_b / n_b + var_a / n_a
    };
    let stddev = variance.sqrt();
    let (ci, p_value) = match config.sequential_tuning {
        None => {
            // Welch-Satterthwaite degrees of freedom.
            let dof = (var_b / n_b + var_a / n_a).powi(2)
                / (var_b.powi(2) / (n_b.powi(2) * (n_b - 1.0))
                    + var_a.powi(2) / (n_a.powi(2) * (n_a - 1.0)));
            let Ok(t) = StudentsT::new(0.0, 1.0, dof) else {
                return TestResult::uninformative("too few units for a t distribution");
            };
            let width = t.inverse_cdf(1.0 - config.alpha / 2.0) * stddev;
            let p_value = 2.0 * (1.0 - t.cdf((expected / stddev).abs()));
            ([expected - width, expected + width], p_value)
        }
        Some(tuning) => {
            // Waudby-Smith et al. 2023, equations 9, 155 and 161.
            let alpha = config.alpha;
            let n = n_a + n_b;
            let rho = ((-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning).sqrt();
            let s2 = variance * n;
            let spread = n * rho.powi(2) + 1.0;
            let width = s2.sqrt()
                * (2.0 * spread * (spread.sqrt() / alpha).ln() / (n * rho).powi(2)).sqrt();
            let st2 = expected.powi(2) * n / variance;
            let evalue = (rho.powi(2) * st2 / (2.0 * spread)).exp() / spread.sqrt();
            (
                [expected - width, expected + width],
                (1.0 / evalue).min(1.0),
            )
        }
    };
    TestResult {
        expected,
        ci,
        p_value,
        stddev,
        error: None,
    }
}

/// The p-value of a sample ratio mismatch: observed units per variation against the split
/// the weights promise (chi-square test). GrowthBook warns below 0.001.
pub fn sample_ratio_mismatch(units: &[u64], weights: &[f64]) -> f64 {
    let total: f64 = units.iter().map(|&count| count as f64).sum();
    if total == 0.0 || units.len() < 2 || units.len() != weights.len() {
        return 1.0;
    }
    let total_weight: f64 = weights.iter().sum();
    let statistic: f64 = units
        .iter()
        .zip(weights)
        .filter(|(_, weight)| **weight > 0.0)
        .map(|(&observed, weight)| {
            let expected = weight / total_weight * total;
            (observed as f64 - expected).powi(2) / expected
        })
        .sum();
    match ChiSquared::new((units.len() - 1) as f64) {
        Ok(chi_squared) => chi_squared.sf(statistic),
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evenly_split_experiment_has_no_mismatch_and_a_skewed_one_does() {
        assert!(sample_ratio_mismatch(&[5_000, 5_030], &[0.5, 0.5]) > 0.5);
        assert!(sample_ratio_mismatch(&[5_000, 5_600], &[0.5, 0.5]) < 0.001);
        assert_eq!(sample_ratio_mismatch(&[0, 0], &[0.5, 0.5]), 1.0);
    }

    #[test]
    fn a_zero_control_mean_gives_no_result() {
        let zero = Statistic::Proportion { n: 100, sum: 0.0 };
        let some = Statistic::Proportion { n: 100, sum: 10.0 };
        let result = two_sided_test(&zero, &some, &TestConfig::default());
        assert!(result.error.is_some());
        assert_eq!(result.p_value, 1.0);
    }
}
