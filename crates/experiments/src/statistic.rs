//! Summary statistics of one metric in one variation, in the forms GrowthBook's stats engine
//! (gbstats) accepts: means, proportions, ratios of two per-unit sums (variance by the delta
//! method) and metrics adjusted with the pre-exposure period (CUPED).

use serde::{Deserialize, Serialize};

/// Why control and treatment cannot be compared when their components differ in kind.
pub(crate) const MIXED_COMPONENTS: &str =
    "control and treatment must summarise each period alike (both means or both proportions)";

/// One per-unit quantity inside a ratio or regression-adjusted statistic, summed over the
/// units of the statistic that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Component {
    /// A value per unit: its sum and sum of squares.
    Mean { sum: f64, sum_squares: f64 },
    /// A yes or no per unit: how many units said yes.
    Proportion { sum: f64 },
}

impl Component {
    pub fn sum(&self) -> f64 {
        match *self {
            Component::Mean { sum, .. } | Component::Proportion { sum } => sum,
        }
    }

    /// This component as a statistic of its own over `n` units.
    pub fn statistic(&self, n: u64) -> Statistic {
        match *self {
            Component::Mean { sum, sum_squares } => Statistic::Mean {
                n,
                sum,
                sum_squares,
            },
            Component::Proportion { sum } => Statistic::Proportion { n, sum },
        }
    }

    /// Both components' units together, if they are of the same kind.
    fn pooled(&self, other: &Component) -> Option<Component> {
        match (*self, *other) {
            (Component::Proportion { sum: a }, Component::Proportion { sum: b }) => {
                Some(Component::Proportion { sum: a + b })
            }
            (
                Component::Mean {
                    sum: a,
                    sum_squares: a_squares,
                },
                Component::Mean {
                    sum: b,
                    sum_squares: b_squares,
                },
            ) => Some(Component::Mean {
                sum: a + b,
                sum_squares: a_squares + b_squares,
            }),
            _ => None,
        }
    }
}

/// Summary statistics of one metric in one variation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Statistic {
    /// A mean: units, sum and sum of squares of the metric's values.
    Mean { n: u64, sum: f64, sum_squares: f64 },
    /// A conversion rate: units and how many converted.
    Proportion { n: u64, sum: f64 },
    /// A ratio of two per-unit sums, such as revenue per session: units, the numerator, the
    /// denominator and the sum over units of numerator times denominator.
    Ratio {
        n: u64,
        numerator: Component,
        denominator: Component,
        sum_of_products: f64,
    },
    /// A metric adjusted with the same units' values before exposure (CUPED): units, the
    /// metric after exposure, the covariate before exposure and the sum over units of the
    /// two multiplied.
    RegressionAdjusted {
        n: u64,
        post: Component,
        pre: Component,
        post_pre_sum_of_products: f64,
    },
}

impl Statistic {
    pub fn n(&self) -> f64 {
        match *self {
            Statistic::Mean { n, .. }
            | Statistic::Proportion { n, .. }
            | Statistic::Ratio { n, .. }
            | Statistic::RegressionAdjusted { n, .. } => n as f64,
        }
    }

    /// The mean before any adjustment: for a ratio, the numerator's sum over the
    /// denominator's (zero when that is zero); for a regression-adjusted statistic, the mean
    /// after exposure.
    pub fn mean(&self) -> f64 {
        match *self {
            Statistic::Mean { n: 0, .. } | Statistic::Proportion { n: 0, .. } => 0.0,
            Statistic::Mean { sum, .. } | Statistic::Proportion { sum, .. } => sum / self.n(),
            Statistic::Ratio {
                numerator,
                denominator,
                ..
            } => {
                if denominator.sum() == 0.0 {
                    return 0.0;
                }
                numerator.sum() / denominator.sum()
            }
            Statistic::RegressionAdjusted { n, post, .. } => post.statistic(n).mean(),
        }
    }

    /// The sample variance per unit: p(1 - p) for a proportion, the delta method's for a
    /// ratio, and for a regression-adjusted statistic the variance after exposure before any
    /// adjustment.
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
            Statistic::Ratio {
                n,
                numerator,
                denominator,
                sum_of_products,
            } => {
                let (m, d) = (numerator.statistic(n), denominator.statistic(n));
                let (mean_m, mean_d) = (m.mean(), d.mean());
                if mean_d == 0.0 || n <= 1 {
                    return 0.0;
                }
                let covariance = covariance(n, numerator.sum(), denominator.sum(), sum_of_products);
                m.variance() / mean_d.powi(2) - 2.0 * covariance * mean_m / mean_d.powi(3)
                    + mean_m.powi(2) * d.variance() / mean_d.powi(4)
            }
            Statistic::RegressionAdjusted { .. } => self.adjusted(0.0).variance,
        }
    }

    /// What a test uses of this statistic, regression-adjusted with `theta` if it is one.
    fn adjusted(&self, theta: f64) -> Summary {
        let Statistic::RegressionAdjusted {
            n,
            post,
            pre,
            post_pre_sum_of_products,
        } = *self
        else {
            return Summary {
                n: self.n(),
                mean: self.mean(),
                unadjusted_mean: self.mean(),
                variance: self.variance(),
            };
        };
        let covariance = covariance(n, post.sum(), pre.sum(), post_pre_sum_of_products);
        let (post, pre) = (post.statistic(n), pre.statistic(n));
        let variance = if n <= 1 {
            0.0
        } else {
            post.variance() + theta.powi(2) * pre.variance() - 2.0 * theta * covariance
        };
        Summary {
            n: n as f64,
            mean: post.mean() - theta * pre.mean(),
            unadjusted_mean: post.mean(),
            variance,
        }
    }
}

/// The sample covariance per unit of two quantities over the same `n` units, from their sums
/// and the sum of their products.
fn covariance(n: u64, sum_x: f64, sum_y: f64, sum_of_products: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    (sum_of_products - sum_x * sum_y / n as f64) / (n as f64 - 1.0)
}

/// The regression coefficient of the metric after exposure on the covariate before, estimated
/// from control and treatment together (gbstats' `compute_theta`): `None` unless both are
/// regression-adjusted, an error if their components differ in kind; zero when either period
/// has no variance, in which case tests use the unadjusted metric.
pub(crate) fn theta(
    control: &Statistic,
    treatment: &Statistic,
) -> Result<Option<f64>, &'static str> {
    let (
        Statistic::RegressionAdjusted {
            n: n_a,
            post: post_a,
            pre: pre_a,
            post_pre_sum_of_products: products_a,
        },
        Statistic::RegressionAdjusted {
            n: n_b,
            post: post_b,
            pre: pre_b,
            post_pre_sum_of_products: products_b,
        },
    ) = (*control, *treatment)
    else {
        return Ok(None);
    };
    let (Some(post), Some(pre)) = (post_a.pooled(&post_b), pre_a.pooled(&pre_b)) else {
        return Err(MIXED_COMPONENTS);
    };
    let n = n_a + n_b;
    let covariance = covariance(n, post.sum(), pre.sum(), products_a + products_b);
    let (post, pre) = (post.statistic(n), pre.statistic(n));
    if pre.variance() == 0.0 || post.variance() == 0.0 {
        return Ok(Some(0.0));
    }
    Ok(Some(covariance / pre.variance()))
}

/// What a test uses of one variation's statistic, after any regression adjustment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Summary {
    pub n: f64,
    /// The mean the lift is computed from (adjusted, for a regression-adjusted statistic).
    pub mean: f64,
    /// The mean that scales a relative lift and its variance.
    pub unadjusted_mean: f64,
    /// The sample variance per unit (adjusted, for a regression-adjusted statistic).
    pub variance: f64,
}

/// Control's and treatment's summaries. Two regression-adjusted statistics share the theta
/// estimated from both; when it is zero, both fall back to their metric after exposure, as
/// gbstats does.
pub(crate) fn summarise(
    control: &Statistic,
    treatment: &Statistic,
) -> Result<(Summary, Summary), &'static str> {
    let unadjusted = |statistic: &Statistic| match *statistic {
        Statistic::RegressionAdjusted { n, post, .. } => post.statistic(n).adjusted(0.0),
        _ => statistic.adjusted(0.0),
    };
    Ok(match theta(control, treatment)? {
        Some(theta) if theta != 0.0 => (control.adjusted(theta), treatment.adjusted(theta)),
        Some(_) => (unadjusted(control), unadjusted(treatment)),
        None => (control.adjusted(0.0), treatment.adjusted(0.0)),
    })
}

/// The lift of `treatment` over `control` (relative or absolute) and the variance of its
/// normal approximation (the delta method for a relative lift).
pub(crate) fn lift(control: &Summary, treatment: &Summary, relative: bool) -> (f64, f64) {
    let (mean_a, mean_b) = (control.unadjusted_mean, treatment.unadjusted_mean);
    let (var_a, var_b) = (control.variance, treatment.variance);
    let (n_a, n_b) = (control.n, treatment.n);
    if relative {
        (
            (treatment.mean - control.mean) / mean_a,
            var_b / (mean_a.powi(2) * n_b) + var_a * mean_b.powi(2) / (mean_a.powi(4) * n_a),
        )
    } else {
        (treatment.mean - control.mean, var_b / n_b + var_a / n_a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    #[test]
    fn ratio_and_regression_adjusted_statistics_read_and_write_as_tagged_json() {
        let ratio = Statistic::Ratio {
            n: 1_000,
            numerator: mean(9_054.0, 108_180.0),
            denominator: Component::Proportion { sum: 640.0 },
            sum_of_products: 9_054.0,
        };
        let json = serde_json::json!({
            "type": "ratio",
            "n": 1000,
            "numerator": {"type": "mean", "sum": 9054.0, "sum_squares": 108180.0},
            "denominator": {"type": "proportion", "sum": 640.0},
            "sum_of_products": 9054.0,
        });
        assert_eq!(serde_json::to_value(ratio).expect("serialises"), json);
        assert_eq!(
            serde_json::from_value::<Statistic>(json).expect("deserialises"),
            ratio
        );
        let adjusted: Statistic = serde_json::from_value(serde_json::json!({
            "type": "regression_adjusted",
            "n": 800,
            "post": {"type": "mean", "sum": 9559.0, "sum_squares": 129589.0},
            "pre": {"type": "mean", "sum": 8064.0, "sum_squares": 89762.0},
            "post_pre_sum_of_products": 103897.0,
        }))
        .expect("deserialises");
        assert_eq!(adjusted, crate::fixtures::adjusted().0);
        assert_eq!(adjusted.n(), 800.0);
        assert_eq!(adjusted.mean(), 9_559.0 / 800.0);
    }

    #[test]
    fn the_ratio_variance_and_theta_match_gbstats() {
        // gbstats 0.8.0's answers: RatioStatistic's mean and variance, and compute_theta.
        let (ratio, _) = ratios();
        assert_close(ratio.mean(), 2.994047619047619);
        assert_close(ratio.variance(), 0.9896306743302454);
        let (control, treatment) = crate::fixtures::adjusted();
        let adjustment = theta(&control, &treatment)
            .expect("alike")
            .expect("both adjusted");
        assert_close(adjustment, 0.9769868897250096);
        let (control_conversions, treatment_conversions) = adjusted_conversions();
        let adjustment = theta(&control_conversions, &treatment_conversions)
            .expect("alike")
            .expect("both adjusted");
        assert_close(adjustment, 0.4968029289159943);

        assert_eq!(theta(&control, &ratio), Ok(None));
        assert_eq!(
            theta(&control, &treatment_conversions),
            Err(MIXED_COMPONENTS)
        );
        assert_eq!(
            summarise(&control, &treatment_conversions),
            Err(MIXED_COMPONENTS)
        );
    }
}
