//! Bayesian analysis of one variation against control, as GrowthBook's stats engine (gbstats)
//! computes it in `EffectBayesianABTest`: a normal posterior for the lift, from which come the
//! chance to win, the credible interval and the risk (expected loss) of either choice. The
//! distributions come from `statrs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

use crate::statistic::{Statistic, lift, summarise};
use crate::stats::{Difference, ZERO_CONTROL_MEAN, ZERO_VARIANCE};

/// A proper normal prior on the relative lift (GrowthBook's metric prior: mean and standard
/// deviation of the relative lift, rescaled by control's mean for absolute differences).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    pub mean: f64,
    pub stddev: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BayesianConfig {
    /// The credible interval holds 1 - alpha of the posterior.
    pub alpha: f64,
    pub difference: Difference,
    /// Lower is better for this metric: the chance to win is that of a fall, and the two
    /// risks swap places.
    pub inverse: bool,
    /// `None`: gbstats' default flat (improper) prior, so the posterior is the data's normal
    /// approximation.
    pub prior: Option<Prior>,
}

impl Default for BayesianConfig {
    fn default() -> Self {
        BayesianConfig {
            alpha: 0.05,
            difference: Difference::Relative,
            inverse: false,
            prior: None,
        }
    }
}

/// One variation against control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BayesianResult {
    /// The posterior probability that the treatment is better than control.
    pub chance_to_win: f64,
    /// The posterior mean of the lift: relative or absolute as configured.
    pub expected: f64,
    /// The equal-tailed credible interval of the lift.
    pub ci: [f64; 2],
    /// The posterior standard deviation of the lift.
    pub stddev: f64,
    /// The expected loss, in the lift's units, of choosing control (first) and of choosing
    /// the treatment (second).
    pub risk: [f64; 2],
    /// Why no result could be computed (then the other fields are uninformative).
    pub error: Option<String>,
}

impl BayesianResult {
    fn uninformative(error: &str) -> BayesianResult {
        BayesianResult {
            chance_to_win: 0.5,
            expected: 0.0,
            ci: [0.0, 0.0],
            stddev: 0.0,
            risk: [0.0, 0.0],
            error: Some(error.to_string()),
        }
    }
}

/// The Bayesian comparison of `treatment` with `control` (gbstats' `EffectBayesianABTest`),
/// from the same statistics and adjustments as [`crate::two_sided_test`].
pub fn bayesian_test(
    control: &Statistic,
    treatment: &Statistic,
    config: &BayesianConfig,
) -> BayesianResult {
    if !(config.alpha > 0.0 && config.alpha < 1.0) {
        return BayesianResult::uninformative("alpha must be between 0 and 1");
    }
    let (a, b) = match summarise(control, treatment) {
        Ok(summaries) => summaries,
        Err(error) => return BayesianResult::uninformative(error),
    };
    let relative = config.difference == Difference::Relative;
    if relative && (a.mean == 0.0 || a.unadjusted_mean == 0.0) {
        return BayesianResult::uninformative(ZERO_CONTROL_MEAN);
    }
    if a.n == 0.0 || b.n == 0.0 {
        return BayesianResult::uninformative("a variation has no units");
    }
    if a.variance <= 0.0 || b.variance <= 0.0 {
        return BayesianResult::uninformative(ZERO_VARIANCE);
    }
    let (data_mean, data_variance) = lift(&a, &b, relative);
    let (mean, variance) = match config.prior {
        None => (data_mean, data_variance),
        Some(prior) => {
            let (prior_mean, prior_variance) = if relative {
                (prior.mean, prior.stddev.powi(2))
            } else {
                (
                    prior.mean * a.unadjusted_mean.abs(),
                    prior.stddev.powi(2) * a.unadjusted_mean.powi(2),
                )
            };
            if prior_variance.is_nan() || prior_variance <= 0.0 {
                return BayesianResult::uninformative("the prior has no variance");
            }
            let precision = 1.0 / data_variance + 1.0 / prior_variance;
            (
                (data_mean / data_variance + prior_mean / prior_variance) / precision,
                1.0 / precision,
            )
        }
    };
    let stddev = variance.sqrt();
    let Ok(posterior) = Normal::new(mean, stddev) else {
        return BayesianResult::uninformative("the posterior is not a normal distribution");
    };
    let gain = posterior.sf(0.0);
    let loss = posterior.cdf(0.0);
    // E[max(lift, 0)] and E[max(-lift, 0)]: the mean of each truncated half of the posterior
    // times its probability, which share the term stddev * density(mean / stddev).
    let tail = stddev * stddev * posterior.pdf(0.0);
    let risk_control = mean * gain + tail;
    let risk_treatment = tail - mean * loss;
    let (chance_to_win, risk) = if config.inverse {
        (1.0 - gain, [risk_treatment, risk_control])
    } else {
        (gain, [risk_control, risk_treatment])
    };
    BayesianResult {
        chance_to_win,
        expected: mean,
        ci: [
            posterior.inverse_cdf(config.alpha / 2.0),
            posterior.inverse_cdf(1.0 - config.alpha / 2.0),
        ],
        stddev,
        risk,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    /// Checks a result against gbstats' chance_to_win, expected, ci, uplift.stddev and risk.
    fn assert_matches(
        result: &BayesianResult,
        chance_to_win: f64,
        expected: f64,
        ci: [f64; 2],
        stddev: f64,
        risk: [f64; 2],
    ) {
        assert_eq!(result.error, None);
        assert_close(result.chance_to_win, chance_to_win);
        assert_close(result.expected, expected);
        assert_close(result.ci[0], ci[0]);
        assert_close(result.ci[1], ci[1]);
        assert_close(result.stddev, stddev);
        assert_close(result.risk[0], risk[0]);
        assert_close(result.risk[1], risk[1]);
    }

    fn absolute() -> BayesianConfig {
        BayesianConfig {
            difference: Difference::Absolute,
            ..BayesianConfig::default()
        }
    }

    #[test]
    fn a_proportion_matches_gbstats() {
        // gbstats 0.8.0's answers: EffectBayesianABTest on ProportionStatistic, relative and
        // absolute.
        let (control, treatment) = conversions();
        let relative = bayesian_test(&control, &treatment, &BayesianConfig::default());
        assert_matches(
            &relative,
            0.9211896319290163,
            0.08055009823182718,
            [-0.031171059680835625, 0.19227125614448998],
            0.057001638190244834,
            [0.08258058218193218, 0.002030483950104992],
        );
        let result = bayesian_test(&control, &treatment, &absolute());
        assert_matches(
            &result,
            0.9291816513534392,
            0.020500000000000018,
            [-0.006837976096096446, 0.047837976096096475],
            0.013948203289312929,
            [0.020937830745843877, 0.0004378307458438595],
        );
    }

    #[test]
    fn a_mean_matches_gbstats_and_inverse_swaps_the_risks() {
        // gbstats 0.8.0's answers: EffectBayesianABTest on SampleMeanStatistic, relative,
        // absolute and relative with inverse=True.
        let (control, treatment) = unadjusted();
        let relative = bayesian_test(&control, &treatment, &BayesianConfig::default());
        assert_matches(
            &relative,
            0.9996630219869712,
            0.06797578070978955,
            [0.028790006556442573, 0.10716155486313651],
            0.01999310929304791,
            [0.06797751357243874, 1.7328626491839979e-06],
        );
        let result = bayesian_test(&control, &treatment, &absolute());
        assert_matches(
            &result,
            0.9997720046895298,
            0.8122256097560978,
            [0.3580830848610992, 1.2663681346510964],
            0.2317096275631679,
            [0.8122388743291534, 1.3264573055653723e-05],
        );
        let inverse = BayesianConfig {
            inverse: true,
            ..BayesianConfig::default()
        };
        let result = bayesian_test(&control, &treatment, &inverse);
        assert_matches(
            &result,
            0.00033697801302878805,
            0.06797578070978955,
            [0.028790006556442573, 0.10716155486313651],
            0.01999310929304791,
            [1.7328626491839979e-06, 0.06797751357243874],
        );
    }

    #[test]
    fn a_proper_prior_matches_gbstats_on_either_scale() {
        // gbstats 0.8.0's answers: EffectBayesianABTest with GaussianPrior(mean=0,
        // variance=0.3**2, proper=True) and prior_type="relative", relative and absolute.
        let prior = Some(Prior {
            mean: 0.0,
            stddev: 0.3,
        });
        let (control, treatment) = conversions();
        let relative = BayesianConfig {
            prior,
            ..BayesianConfig::default()
        };
        let result = bayesian_test(&control, &treatment, &relative);
        assert_matches(
            &result,
            0.9174742938341122,
            0.07774340016288774,
            [-0.03201408723341924, 0.1875008875591947],
            0.05599974706783391,
            [0.07985038197716973, 0.0021069818142819955],
        );
        let result = bayesian_test(
            &control,
            &treatment,
            &BayesianConfig {
                prior,
                ..absolute()
            },
        );
        assert_matches(
            &result,
            0.9258826195542526,
            0.019837913922473385,
            [-0.007054973240773893, 0.046730801085720655],
            0.013721112926245041,
            [0.020292406297136464, 0.0004544923746630803],
        );
    }

    #[test]
    fn cuped_and_ratios_match_gbstats() {
        // gbstats 0.8.0's answers: EffectBayesianABTest on RegressionAdjustedStatistic
        // (relative) and RatioStatistic (relative and absolute).
        let (control, treatment) = adjusted();
        let result = bayesian_test(&control, &treatment, &BayesianConfig::default());
        assert_matches(
            &result,
            0.9999982543465606,
            0.06803560859604493,
            [0.03929430897839825, 0.09677690821369161],
            0.014664197834426745,
            [0.06803561369103245, 5.094987499540571e-09],
        );
        let (control, treatment) = ratios();
        let result = bayesian_test(&control, &treatment, &BayesianConfig::default());
        assert_matches(
            &result,
            0.9999999999756799,
            0.10567104777574703,
            [0.07417139698268355, 0.1371706985688105],
            0.016071545723048333,
            [0.105671047775804, 5.69693607375099e-14],
        );
        let result = bayesian_test(&control, &treatment, &absolute());
        assert_matches(
            &result,
            0.9999999999976092,
            0.3163841489952426,
            [0.2266692863034493, 0.4060990116870359],
            0.04577373023150051,
            [0.3163841489952578, 1.523025087731778e-14],
        );
    }

    #[test]
    fn unusable_inputs_give_an_even_chance_and_an_error() {
        let none_converted = Statistic::Proportion { n: 100, sum: 0.0 };
        let some_converted = Statistic::Proportion { n: 100, sum: 10.0 };
        let result = bayesian_test(&none_converted, &some_converted, &BayesianConfig::default());
        assert_eq!(result.error.as_deref(), Some(ZERO_CONTROL_MEAN));
        assert_eq!((result.chance_to_win, result.risk), (0.5, [0.0, 0.0]));

        let empty = Statistic::Proportion { n: 0, sum: 0.0 };
        let result = bayesian_test(&some_converted, &empty, &absolute());
        assert_eq!(result.error.as_deref(), Some("a variation has no units"));

        let constant = Statistic::Mean {
            n: 100,
            sum: 200.0,
            sum_squares: 400.0,
        };
        let result = bayesian_test(&constant, &some_converted, &absolute());
        assert_eq!(result.error.as_deref(), Some(ZERO_VARIANCE));

        // An absolute difference from a control averaging zero is well defined under the flat
        // prior; a prior relative to that mean is not.
        let balanced = Statistic::Mean {
            n: 100,
            sum: 0.0,
            sum_squares: 50.0,
        };
        let result = bayesian_test(&balanced, &some_converted, &absolute());
        assert_eq!(result.error, None);
        assert_close(result.expected, 0.1);
        let prior = Some(Prior {
            mean: 0.0,
            stddev: 0.3,
        });
        let result = bayesian_test(
            &balanced,
            &some_converted,
            &BayesianConfig {
                prior,
                ..absolute()
            },
        );
        assert_eq!(result.error.as_deref(), Some("the prior has no variance"));

        let wide = BayesianConfig {
            alpha: 1.0,
            ..BayesianConfig::default()
        };
        let result = bayesian_test(&some_converted, &some_converted, &wide);
        assert!(result.error.is_some());
    }
}
