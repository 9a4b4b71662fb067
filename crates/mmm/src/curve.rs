//! A channel's response: carry-over (geometric or Weibull adstock) followed by diminishing
//! returns (Hill saturation), with the derivatives the sampler needs, derived by hand.

use serde::{Deserialize, Serialize};

/// How spend carries over into later periods; the model's choice for every channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum Adstock {
    /// Each period keeps a fixed share of the previous period's adstock.
    #[default]
    Geometric,
    /// Lag `l` weighs `exp(-(l / scale)^shape)` for `l < max_lag` (the Weibull survival curve,
    /// the "Weibull CDF" adstock of Robyn and PyMC-Marketing): the share carried over may
    /// shrink faster or slower with the lag. `max_lag` 0 means 8 weeks or 28 days.
    Weibull {
        #[serde(default)]
        max_lag: usize,
    },
}

impl Adstock {
    /// Unconstrained coordinates of the carry-over, per channel.
    pub fn coordinates(&self) -> usize {
        match self {
            Adstock::Geometric => 1,
            Adstock::Weibull { .. } => 2,
        }
    }
}

/// One channel's carry-over, in natural units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CarryOver {
    /// `decay` in (0, 1): the share of the adstock carried into the next period.
    Geometric { decay: f64 },
    Weibull {
        shape: f64,
        scale: f64,
        max_lag: usize,
    },
}

impl CarryOver {
    /// Weight of lag 1 over the weight of lag 0: the share of a period's effect that is
    /// carried into the next one.
    pub fn decay(&self) -> f64 {
        match *self {
            CarryOver::Geometric { decay } => decay,
            CarryOver::Weibull { shape, scale, .. } => (-(1.0 / scale).powf(shape)).exp(),
        }
    }

    /// Periods until the carried-over effect of one period's spend halves.
    pub fn half_life(&self) -> f64 {
        match *self {
            CarryOver::Geometric { decay } if decay > 0.0 => 0.5f64.ln() / decay.ln(),
            CarryOver::Geometric { .. } => 0.0,
            CarryOver::Weibull { shape, scale, .. } => scale * 2f64.ln().powf(1.0 / shape),
        }
    }
}

/// Diminishing returns: `x^shape / (x^shape + half_saturation^shape)`, in the model's own
/// units: the half saturation is relative to the channel's mean spend per period, so that one
/// prior fits every channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hill {
    /// Adstock, as a multiple of the mean spend, at which the effect reaches half its maximum.
    pub half_saturation: f64,
    /// Hill exponent: above 1 the curve is S-shaped, at or below 1 it is concave.
    pub shape: f64,
}

impl Hill {
    /// The response to `relative_spend` (times the mean) every period, in [0, 1): adstock is
    /// normalised, so steady spend has itself as adstock whatever the carry-over.
    pub fn steady(&self, relative_spend: f64) -> f64 {
        if relative_spend <= 0.0 {
            return 0.0;
        }
        sigmoid(self.shape * (relative_spend.ln() - self.half_saturation.ln()))
    }

    /// `d steady / d relative_spend`.
    pub fn steady_slope(&self, relative_spend: f64) -> f64 {
        self.slope_at(relative_spend, self.steady(relative_spend))
    }

    /// [`Self::steady_slope`] from the already computed `steady(relative_spend)`.
    pub fn slope_at(&self, relative_spend: f64, value: f64) -> f64 {
        if relative_spend <= 0.0 {
            // The S-curve starts flat; a concave one starts infinitely steep, capped here.
            return if self.shape > 1.0 {
                0.0
            } else {
                f64::MAX.sqrt()
            };
        }
        value * (1.0 - value) * self.shape / relative_spend
    }
}

/// The shape of one channel's response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub carry_over: CarryOver,
    pub saturation: Hill,
}

/// Unconstrained coordinates of a shape at most: two of the carry-over, two of the Hill curve.
pub const MAX_SHAPE_COORDINATES: usize = 4;

/// `d h_t / d(carry-over coordinates, log half_saturation, log shape)`; the carry-over
/// coordinates are logit decay (geometric) or log shape and log scale (Weibull). Entries past
/// the shape's coordinates are 0.
pub type Gradient = [f64; MAX_SHAPE_COORDINATES];

impl Shape {
    /// Writes `h_t`, the saturated adstock in [0, 1), for each period of `spend` (spend per
    /// period divided by the channel's mean), and its gradient when `gradients` is given.
    ///
    /// The adstock is normalised (the carry-over weights sum to 1), so that steady spend `x`
    /// has adstock `x` whatever the carry-over: the half saturation keeps its meaning while
    /// the carry-over moves. Geometric: `a_t = (1 - decay) * b_t` with
    /// `b_t = x_t + decay * b_(t-1)`.
    pub fn saturated_adstock(
        &self,
        relative_spend: &[f64],
        saturated: &mut [f64],
        mut gradients: Option<&mut [Gradient]>,
    ) {
        debug_assert_eq!(relative_spend.len(), saturated.len());
        let hill = Saturating::new(self.saturation);
        match self.carry_over {
            CarryOver::Geometric { decay } => {
                let mut carried = 0.0;
                let mut carried_by_decay = 0.0;
                for (period, &spend) in relative_spend.iter().enumerate() {
                    carried_by_decay = carried + decay * carried_by_decay;
                    carried = spend + decay * carried;
                    let adstock = (1.0 - decay) * carried;
                    let adstock_by_decay = -carried + (1.0 - decay) * carried_by_decay;
                    let by_logit = decay * (1.0 - decay) * adstock_by_decay;
                    let gradient = gradients.as_deref_mut().map(|all| &mut all[period]);
                    saturated[period] = hill.apply(adstock, &[by_logit], gradient);
                }
            }
            CarryOver::Weibull {
                shape,
                scale,
                max_lag,
            } => {
                let weights = WeibullWeights::new(shape, scale, max_lag);
                for period in 0..relative_spend.len() {
                    let mut adstock = 0.0;
                    let mut slopes = [0.0; 2];
                    let lags = weights.weights.iter().zip(&weights.slopes).take(period + 1);
                    for (lag, (weight, slope)) in lags.enumerate() {
                        let spend = relative_spend[period - lag];
                        adstock += weight * spend;
                        slopes[0] += slope[0] * spend;
                        slopes[1] += slope[1] * spend;
                    }
                    let gradient = gradients.as_deref_mut().map(|all| &mut all[period]);
                    saturated[period] = hill.apply(adstock, &slopes, gradient);
                }
            }
        }
    }
}

/// The Hill curve with its logarithm taken once per series.
struct Saturating {
    shape: f64,
    log_half: f64,
}

impl Saturating {
    fn new(hill: Hill) -> Self {
        Saturating {
            shape: hill.shape,
            log_half: hill.half_saturation.ln(),
        }
    }

    /// `h` for one period's adstock; with `gradient`, also its derivatives, given the
    /// adstock's derivatives in the carry-over coordinates.
    fn apply(&self, adstock: f64, adstock_slopes: &[f64], gradient: Option<&mut Gradient>) -> f64 {
        let carried = adstock_slopes.len();
        if adstock <= 0.0 {
            if let Some(gradient) = gradient {
                *gradient = [0.0; MAX_SHAPE_COORDINATES];
            }
            return 0.0;
        }
        let exponent = self.shape * (adstock.ln() - self.log_half);
        let value = sigmoid(exponent);
        if let Some(gradient) = gradient {
            let slope = value * (1.0 - value);
            *gradient = [0.0; MAX_SHAPE_COORDINATES];
            for (entry, adstock_slope) in gradient.iter_mut().zip(adstock_slopes) {
                *entry = slope * self.shape / adstock * adstock_slope;
            }
            gradient[carried] = -slope * self.shape;
            gradient[carried + 1] = slope * exponent;
        }
        value
    }
}

/// Normalised Weibull weights per lag and their derivatives in (log shape, log scale).
struct WeibullWeights {
    weights: Vec<f64>,
    slopes: Vec<[f64; 2]>,
}

impl WeibullWeights {
    fn new(shape: f64, scale: f64, max_lag: usize) -> Self {
        let mut weights = Vec::with_capacity(max_lag);
        let mut slopes = Vec::with_capacity(max_lag);
        for lag in 0..max_lag.max(1) {
            // u = (lag / scale)^shape; w = exp(-u); dw/dlog shape = -w u ln u;
            // dw/dlog scale = w u shape.
            let powered = (lag as f64 / scale).powf(shape);
            let weight = (-powered).exp();
            let by_shape = if powered > 0.0 {
                -weight * powered * powered.ln()
            } else {
                0.0
            };
            weights.push(weight);
            slopes.push([by_shape, weight * powered * shape]);
        }
        let total: f64 = weights.iter().sum();
        let total_slope = slopes.iter().fold([0.0, 0.0], |sum, slope| {
            [sum[0] + slope[0], sum[1] + slope[1]]
        });
        for (weight, slope) in weights.iter_mut().zip(&mut slopes) {
            *weight /= total;
            for (entry, total_entry) in slope.iter_mut().zip(total_slope) {
                *entry = (*entry - *weight * total_entry) / total;
            }
        }
        WeibullWeights { weights, slopes }
    }
}

pub fn sigmoid(value: f64) -> f64 {
    if value >= 0.0 {
        1.0 / (1.0 + (-value).exp())
    } else {
        let exponential = value.exp();
        exponential / (1.0 + exponential)
    }
}

pub fn logit(probability: f64) -> f64 {
    (probability / (1.0 - probability)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HILL: Hill = Hill {
        half_saturation: 0.9,
        shape: 1.7,
    };

    fn geometric() -> Shape {
        Shape {
            carry_over: CarryOver::Geometric { decay: 0.4 },
            saturation: HILL,
        }
    }

    fn weibull() -> Shape {
        Shape {
            carry_over: CarryOver::Weibull {
                shape: 1.6,
                scale: 2.5,
                max_lag: 8,
            },
            saturation: HILL,
        }
    }

    /// The shape's unconstrained coordinates, and the shape they describe.
    fn coordinates(shape: &Shape) -> Vec<f64> {
        let mut coordinates = match shape.carry_over {
            CarryOver::Geometric { decay } => vec![logit(decay)],
            CarryOver::Weibull { shape, scale, .. } => vec![shape.ln(), scale.ln()],
        };
        coordinates.extend([
            shape.saturation.half_saturation.ln(),
            shape.saturation.shape.ln(),
        ]);
        coordinates
    }

    fn from_coordinates(like: &Shape, coordinates: &[f64]) -> Shape {
        let (carry_over, hill) = match like.carry_over {
            CarryOver::Geometric { .. } => (
                CarryOver::Geometric {
                    decay: sigmoid(coordinates[0]),
                },
                &coordinates[1..],
            ),
            CarryOver::Weibull { max_lag, .. } => (
                CarryOver::Weibull {
                    shape: coordinates[0].exp(),
                    scale: coordinates[1].exp(),
                    max_lag,
                },
                &coordinates[2..],
            ),
        };
        Shape {
            carry_over,
            saturation: Hill {
                half_saturation: hill[0].exp(),
                shape: hill[1].exp(),
            },
        }
    }

    #[test]
    fn steady_spend_saturates_to_the_steady_value() {
        for shape in [geometric(), weibull()] {
            let spend = vec![1.3; 200];
            let mut saturated = vec![0.0; 200];
            shape.saturated_adstock(&spend, &mut saturated, None);
            assert!((saturated[199] - HILL.steady(1.3)).abs() < 1e-12);
            assert!(saturated[0] < saturated[199]);
        }
        assert!((HILL.steady(0.9) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn half_life_and_decay_describe_the_carry_over() {
        let geometric = CarryOver::Geometric { decay: 0.5 };
        assert!((geometric.half_life() - 1.0).abs() < 1e-12);
        let weibull = CarryOver::Weibull {
            shape: 1.0,
            scale: 2.0,
            max_lag: 8,
        };
        // With shape 1 the Weibull weights fall geometrically by exp(-1 / scale) per lag.
        assert!((weibull.decay() - (-0.5f64).exp()).abs() < 1e-12);
        assert!((weibull.half_life() - 2.0 * 2f64.ln()).abs() < 1e-12);
    }

    /// The hand-derived gradient against central differences in the unconstrained coordinates.
    #[test]
    fn gradients_match_finite_differences() {
        let spend: Vec<f64> = (0..40)
            .map(|period| {
                if period % 5 == 0 {
                    0.0
                } else {
                    0.5 + (period % 7) as f64 * 0.3
                }
            })
            .collect();
        for base in [geometric(), weibull()] {
            let mut saturated = vec![0.0; spend.len()];
            let mut gradients = vec![[0.0; MAX_SHAPE_COORDINATES]; spend.len()];
            base.saturated_adstock(&spend, &mut saturated, Some(&mut gradients));
            let step = 1e-6;
            let at = coordinates(&base);
            let moved = |coordinate: usize, delta: f64| {
                let mut unconstrained = at.clone();
                unconstrained[coordinate] += delta;
                let mut values = vec![0.0; spend.len()];
                from_coordinates(&base, &unconstrained).saturated_adstock(
                    &spend,
                    &mut values,
                    None,
                );
                values
            };
            for coordinate in 0..at.len() {
                let up = moved(coordinate, step);
                let down = moved(coordinate, -step);
                for (period, analytic) in
                    gradients.iter().map(|slope| slope[coordinate]).enumerate()
                {
                    let numeric = (up[period] - down[period]) / (2.0 * step);
                    assert!(
                        (numeric - analytic).abs() < 1e-6,
                        "{base:?} period {period}, coordinate {coordinate}: {numeric} vs {analytic}"
                    );
                }
            }
        }
    }
}
