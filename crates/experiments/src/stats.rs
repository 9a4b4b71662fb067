//! Frequentist analysis of one variation against control, as GrowthBook's stats engine
//! (gbstats) computes it: Welch's t-test with the delta method for relative lift, always-valid
//! confidence sequences for sequential testing, and the sample ratio mismatch check. The
//! distributions come from `statrs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, StudentsT};

use crate::statistic::{Statistic, lift, summarise};

/// Why no result can be computed when control's mean is zero.
pub(crate) const ZERO_CONTROL_MEAN: &str = "the control's mean is zero";
/// Why no result can be computed when a variation's variance is not positive.
pub(crate) const ZERO_VARIANCE: &str = "a variation has zero or negative variance";

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
/// `SequentialTwoSidedTTest` with a tuning parameter). Ratios use the delta method's variance;
/// two regression-adjusted statistics are adjusted with the theta estimated from both
/// (gbstats' `compute_theta`), the lift measured on the adjusted means and
/// scaled by control's unadjusted mean.
pub fn two_sided_test(
    control: &Statistic,
    treatment: &Statistic,
    config: &TestConfig,
) -> TestResult {
    let (a, b) = match summarise(control, treatment) {
        Ok(summaries) => summaries,
        Err(error) => return TestResult::uninformative(error),
    };
    if a.mean == 0.0 || a.unadjusted_mean == 0.0 {
        return TestResult::uninformative(ZERO_CONTROL_MEAN);
    }
    if a.variance <= 0.0 || b.variance <= 0.0 {
        return TestResult::uninformative(ZERO_VARIANCE);
    }
    let (var_a, var_b) = (a.variance, b.variance);
    let (n_a, n_b) = (a.n, b.n);
    let (expected, variance) = lift(&a, &b, config.difference == Difference::Relative);
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
    use crate::fixtures::*;
    use crate::statistic::{Component, MIXED_COMPONENTS, theta};

    /// Checks a result against gbstats' expected, ci, p_value and uplift.stddev.
    fn assert_matches(result: &TestResult, expected: f64, ci: [f64; 2], p_value: f64, stddev: f64) {
        assert_eq!(result.error, None);
        assert_close(result.expected, expected);
        assert_close(result.ci[0], ci[0]);
        assert_close(result.ci[1], ci[1]);
        assert_close(result.p_value, p_value);
        assert_close(result.stddev, stddev);
    }

    fn config(difference: Difference, sequential_tuning: Option<f64>) -> TestConfig {
        TestConfig {
            difference,
            sequential_tuning,
            ..TestConfig::default()
        }
    }

    #[test]
    fn a_ratio_metric_matches_gbstats() {
        // gbstats 0.8.0's answers: TwoSidedTTest and SequentialTwoSidedTTest on RatioStatistic.
        let (control, treatment) = ratios();
        let relative = two_sided_test(&control, &treatment, &TestConfig::default());
        assert_matches(
            &relative,
            0.10567104777574703,
            [0.07415275207113214, 0.1371893434803619],
            6.15589801356009e-11,
            0.016071545723048333,
        );
        let absolute = two_sided_test(&control, &treatment, &config(Difference::Absolute, None));
        assert_matches(
            &absolute,
            0.3163841489952426,
            [0.22661618331222172, 0.40615211467826345],
            6.3649086001760224e-12,
            0.04577373023150051,
        );
        let sequential = two_sided_test(
            &control,
            &treatment,
            &config(Difference::Relative, Some(5_000.0)),
        );
        assert_matches(
            &sequential,
            0.10567104777574703,
            [0.05555048717087186, 0.1557916083806222],
            1.3605352826155161e-07,
            0.016071545723048333,
        );

        // Buyers per session: a proportion over a mean.
        let buyers = |n, buyers, sessions, squares, products| Statistic::Ratio {
            n,
            numerator: Component::Proportion { sum: buyers },
            denominator: mean(sessions, squares),
            sum_of_products: products,
        };
        let result = two_sided_test(
            &buyers(1_000, 310.0, 3_024.0, 11_110.0, 1_100.0),
            &buyers(1_050, 360.0, 3_173.0, 11_643.0, 1_290.0),
            &TestConfig::default(),
        );
        assert_matches(
            &result,
            0.10675762227666905,
            [-0.02649741657403279, 0.24001266112737088],
            0.1163001643642183,
            0.06794828567469528,
        );
    }

    #[test]
    fn cuped_matches_gbstats_and_narrows_the_interval() {
        // gbstats 0.8.0's answers: TwoSidedTTest on RegressionAdjustedStatistic, and on the
        // SampleMeanStatistic of the same metric unadjusted.
        let (control, treatment) = adjusted();
        let relative = two_sided_test(&control, &treatment, &TestConfig::default());
        assert_matches(
            &relative,
            0.06803560859604493,
            [0.039272759783392674, 0.09679845740869719],
            3.7729415924836474e-06,
            0.014664197834426747,
        );
        let absolute = two_sided_test(&control, &treatment, &config(Difference::Absolute, None));
        assert_matches(
            &absolute,
            0.812940478211992,
            [0.48017293184424115, 1.1457080245797429],
            1.8052561172599013e-06,
            0.1696552787450926,
        );
        let (control_post, treatment_post) = unadjusted();
        let plain = two_sided_test(&control_post, &treatment_post, &TestConfig::default());
        assert_matches(
            &plain,
            0.06797578070978955,
            [0.028760423871498575, 0.10719113754808052],
            0.000690479461846083,
            0.01999310929304791,
        );
        assert!(relative.stddev < 0.75 * plain.stddev);
        assert!(relative.ci[1] - relative.ci[0] < plain.ci[1] - plain.ci[0]);

        let (control, treatment) = adjusted_conversions();
        let conversions = two_sided_test(&control, &treatment, &TestConfig::default());
        assert_matches(
            &conversions,
            0.11471139982722954,
            [0.018571862995368046, 0.21085093665909105],
            0.019369398357302448,
            0.04903682890116957,
        );
    }

    #[test]
    fn sequential_cuped_matches_gbstats() {
        // gbstats 0.8.0's answers: SequentialTwoSidedTTest on RegressionAdjustedStatistic
        // (tuning 5,000 relative, 1,000 absolute) and on the unadjusted SampleMeanStatistic.
        let (control, treatment) = adjusted();
        let relative = two_sided_test(
            &control,
            &treatment,
            &config(Difference::Relative, Some(5_000.0)),
        );
        assert_matches(
            &relative,
            0.06803560859604493,
            [0.021456133524892645, 0.11461508366719722],
            0.0008147213805797845,
            0.014664197834426747,
        );
        let absolute = two_sided_test(
            &control,
            &treatment,
            &config(Difference::Absolute, Some(1_000.0)),
        );
        assert_matches(
            &absolute,
            0.812940478211992,
            [0.29581972834533954, 1.3300612280786446],
            8.806822586766269e-05,
            0.1696552787450926,
        );
        let (control_post, treatment_post) = unadjusted();
        let plain = two_sided_test(
            &control_post,
            &treatment_post,
            &config(Difference::Relative, Some(5_000.0)),
        );
        assert_matches(
            &plain,
            0.06797578070978955,
            [0.004469508738742217, 0.13148205268083688],
            0.029452264618133623,
            0.01999310929304791,
        );
        assert!(relative.p_value < plain.p_value);
    }

    #[test]
    fn ratios_and_cuped_without_a_usable_control_give_no_result() {
        let (_, treatment) = ratios();
        let nothing_bought = Statistic::Ratio {
            n: 1_000,
            numerator: mean(0.0, 0.0),
            denominator: mean(3_024.0, 11_110.0),
            sum_of_products: 0.0,
        };
        let result = two_sided_test(&nothing_bought, &treatment, &TestConfig::default());
        assert_eq!(result.error.as_deref(), Some(ZERO_CONTROL_MEAN));
        assert_eq!((result.p_value, result.ci), (1.0, [0.0, 0.0]));

        // Every unit's value is 2 after exposure: theta is zero and the unadjusted metric
        // has no variance.
        let constant = Statistic::RegressionAdjusted {
            n: 500,
            post: mean(1_000.0, 2_000.0),
            pre: mean(700.0, 1_200.0),
            post_pre_sum_of_products: 1_400.0,
        };
        assert_eq!(theta(&constant, &constant), Ok(Some(0.0)));
        let result = two_sided_test(&constant, &constant, &TestConfig::default());
        assert_eq!(result.error.as_deref(), Some(ZERO_VARIANCE));

        let (control, _) = adjusted();
        let (_, conversions) = adjusted_conversions();
        let result = two_sided_test(&control, &conversions, &TestConfig::default());
        assert_eq!(result.error.as_deref(), Some(MIXED_COMPONENTS));
    }

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
