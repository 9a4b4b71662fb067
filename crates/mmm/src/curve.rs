//! A channel's response: carry-over (geometric adstock) followed by diminishing returns (Hill
//! saturation), with the derivatives the sampler needs, derived by hand.

/// The shape of one channel's response, in the model's own units: the half saturation is
/// relative to the channel's mean spend per period, so that one prior fits every channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Share of the adstock carried into the next period, in (0, 1).
    pub decay: f64,
    /// Adstock, as a multiple of the mean spend, at which the effect reaches half its maximum.
    pub half_saturation: f64,
    /// Hill exponent: above 1 the curve is S-shaped, at or below 1 it is concave.
    pub shape: f64,
}

/// `d h_t / d(logit decay, log half_saturation, log shape)`.
pub type Gradient = [f64; 3];

impl Shape {
    /// Writes `h_t`, the saturated adstock in [0, 1), for each period of `spend` (spend per
    /// period divided by the channel's mean), and its gradient when `gradients` is given.
    ///
    /// The adstock is normalised, `a_t = (1 - decay) * b_t` with `b_t = x_t + decay * b_(t-1)`,
    /// so that steady spend `x` has adstock `x` whatever the decay: the half saturation keeps
    /// its meaning while the decay moves.
    pub fn saturated_adstock(
        &self,
        relative_spend: &[f64],
        saturated: &mut [f64],
        mut gradients: Option<&mut [Gradient]>,
    ) {
        debug_assert_eq!(relative_spend.len(), saturated.len());
        let decay = self.decay;
        let log_half = self.half_saturation.ln();
        let mut carried = 0.0;
        let mut carried_by_decay = 0.0;
        for (period, &spend) in relative_spend.iter().enumerate() {
            carried_by_decay = carried + decay * carried_by_decay;
            carried = spend + decay * carried;
            let adstock = (1.0 - decay) * carried;
            if adstock <= 0.0 {
                saturated[period] = 0.0;
                if let Some(gradients) = gradients.as_deref_mut() {
                    gradients[period] = [0.0; 3];
                }
                continue;
            }
            let exponent = self.shape * (adstock.ln() - log_half);
            let value = sigmoid(exponent);
            saturated[period] = value;
            if let Some(gradients) = gradients.as_deref_mut() {
                let slope = value * (1.0 - value);
                let adstock_by_decay = -carried + (1.0 - decay) * carried_by_decay;
                let adstock_by_logit = decay * (1.0 - decay) * adstock_by_decay;
                gradients[period] = [
                    slope * self.shape / adstock * adstock_by_logit,
                    -slope * self.shape,
                    slope * exponent,
                ];
            }
        }
    }

    /// The steady-state response to spending `relative_spend` (times the mean) every period,
    /// in [0, 1).
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

    /// Periods until the carried-over effect of one period's spend halves.
    pub fn half_life(&self) -> f64 {
        if self.decay <= 0.0 {
            return 0.0;
        }
        0.5f64.ln() / self.decay.ln()
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

    fn shape() -> Shape {
        Shape {
            decay: 0.4,
            half_saturation: 0.9,
            shape: 1.7,
        }
    }

    #[test]
    fn steady_spend_saturates_to_the_steady_value() {
        let spend = vec![1.3; 200];
        let mut saturated = vec![0.0; 200];
        shape().saturated_adstock(&spend, &mut saturated, None);
        assert!((saturated[199] - shape().steady(1.3)).abs() < 1e-12);
        assert!(saturated[0] < saturated[199]);
        let at_half = shape().steady(0.9);
        assert!((at_half - 0.5).abs() < 1e-12);
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
        let base = shape();
        let mut saturated = vec![0.0; spend.len()];
        let mut gradients = vec![[0.0; 3]; spend.len()];
        base.saturated_adstock(&spend, &mut saturated, Some(&mut gradients));
        let step = 1e-6;
        let moved = |coordinate: usize, delta: f64| {
            let mut unconstrained = [
                logit(base.decay),
                base.half_saturation.ln(),
                base.shape.ln(),
            ];
            unconstrained[coordinate] += delta;
            let shape = Shape {
                decay: sigmoid(unconstrained[0]),
                half_saturation: unconstrained[1].exp(),
                shape: unconstrained[2].exp(),
            };
            let mut values = vec![0.0; spend.len()];
            shape.saturated_adstock(&spend, &mut values, None);
            values
        };
        for coordinate in 0..3 {
            let up = moved(coordinate, step);
            let down = moved(coordinate, -step);
            for (period, analytic) in gradients.iter().map(|slope| slope[coordinate]).enumerate() {
                let numeric = (up[period] - down[period]) / (2.0 * step);
                assert!(
                    (numeric - analytic).abs() < 1e-6,
                    "period {period}, coordinate {coordinate}: {numeric} vs {analytic}"
                );
            }
        }
    }
}
