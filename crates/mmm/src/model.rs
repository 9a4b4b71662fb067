//! The model and its posterior density:
//!
//! `kpi_t = baseline_t + sum_c roi_c * spend_c / H_c * h_c(t) + noise`, where `h_c` is the
//! channel's saturated adstock ([`Shape`]), `H_c` its sum over the fitted periods and `spend_c`
//! the channel's spend over them, so that `roi_c` is the channel's return on ad spend itself
//! and takes an ROI prior in the manner of Meridian. The baseline has an intercept, a linear
//! trend, Fourier terms for seasonality and standardised control variables. The KPI is divided
//! by its mean so that the priors are unit-free.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::curve::{
    Adstock, CarryOver, Gradient, Hill, MAX_SHAPE_COORDINATES, Shape, logit, sigmoid,
};
use crate::data::{Granularity, MediaData, mean, standard_deviation};

/// A log-normal prior on a channel's ROI, given by its mean and standard deviation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoiPrior {
    pub mean: f64,
    pub sd: f64,
}

impl RoiPrior {
    /// Meridian's default, `LogNormal(0.2, 0.9)`: wide, centred a little above break-even.
    pub fn meridian_default() -> RoiPrior {
        RoiPrior::from_log_normal(0.2, 0.9)
    }

    fn from_log_normal(location: f64, scale: f64) -> RoiPrior {
        let mean = (location + scale * scale / 2.0).exp();
        RoiPrior {
            mean,
            sd: mean * (scale * scale).exp_m1().sqrt(),
        }
    }

    /// `(location, scale)` of the log-normal with this mean and standard deviation.
    pub fn log_normal(&self) -> (f64, f64) {
        let variance_of_log = (1.0 + (self.sd / self.mean).powi(2)).ln();
        (
            self.mean.ln() - variance_of_log / 2.0,
            variance_of_log.sqrt(),
        )
    }

    fn is_valid(&self) -> bool {
        self.mean.is_finite() && self.sd.is_finite() && self.mean > 0.0 && self.sd > 0.0
    }
}

/// A measured ROI for a channel (a geo lift test, an experiment), which replaces the channel's
/// prior.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub channel: String,
    pub roi: f64,
    /// Standard error of the measured ROI.
    pub standard_error: f64,
    #[serde(default)]
    pub description: String,
}

/// What the user chooses about the model; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSpec {
    /// Pairs of yearly Fourier terms.
    pub yearly_harmonics: usize,
    /// Pairs of weekly Fourier terms, for daily data.
    pub weekly_harmonics: usize,
    /// The last periods, held out of the fit to measure out-of-sample error.
    pub holdout_periods: usize,
    pub adstock: Adstock,
    /// ROI priors by channel; channels not named get [`RoiPrior::meridian_default`].
    pub roi_priors: BTreeMap<String, RoiPrior>,
    pub calibrations: Vec<Calibration>,
}

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec {
            yearly_harmonics: 2,
            weekly_harmonics: 3,
            holdout_periods: 0,
            adstock: Adstock::Geometric,
            roi_priors: BTreeMap::new(),
            calibrations: Vec::new(),
        }
    }
}

/// Decay ~ Beta(1, 3): short carry-over is more common than long.
const DECAY_PRIOR: (f64, f64) = (1.0, 3.0);
/// Weibull adstock: log shape ~ Normal(0, 0.5), centred on the geometric decay (shape 1);
/// log scale ~ Normal(0, 1), a median of one period, as short as the geometric prior.
const WEIBULL_SHAPE_PRIOR: (f64, f64) = (0.0, 0.5);
const WEIBULL_SCALE_PRIOR: (f64, f64) = (0.0, 1.0);
/// Lags of the Weibull adstock unless the model names them.
const WEIBULL_WEEKS: usize = 8;
const WEIBULL_DAYS: usize = 28;
pub const MAX_WEIBULL_LAG: usize = 104;
/// log(half saturation relative to mean spend) ~ Normal(0, 0.7).
const HALF_SATURATION_PRIOR: (f64, f64) = (0.0, 0.7);
/// log(Hill shape) ~ Normal(0.3, 0.4): median 1.35, mildly S-shaped.
const SHAPE_PRIOR: (f64, f64) = (0.3, 0.4);
/// Noise standard deviation (share of the mean KPI) ~ HalfNormal(0.2).
const NOISE_PRIOR_SCALE: f64 = 0.2;

/// One baseline column and the normal prior of its coefficient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineTerm {
    pub name: String,
    /// One value per period, fitted and held out.
    pub values: Vec<f64>,
    pub prior_mean: f64,
    pub prior_sd: f64,
}

/// The data as the density reads it, computed once per fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    pub channels: Vec<String>,
    /// Spend per period divided by the channel's mean over the fitted periods, all periods.
    pub relative_spend: Vec<Vec<f64>>,
    /// Mean spend per fitted period, per channel.
    pub mean_spend: Vec<f64>,
    /// Total spend over the fitted periods, per channel.
    pub total_spend: Vec<f64>,
    /// Mean KPI over the fitted periods: the unit of the scaled KPI.
    pub kpi_scale: f64,
    /// The KPI divided by `kpi_scale`, all periods.
    pub scaled_kpi: Vec<f64>,
    pub fitted_periods: usize,
    pub baseline: Vec<BaselineTerm>,
    /// `(location, scale)` of each channel's log ROI prior.
    pub roi_priors: Vec<(f64, f64)>,
    /// With the Weibull's lags resolved.
    pub adstock: Adstock,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("the ROI prior of \"{0}\" needs a positive mean and standard deviation")]
    InvalidPrior(String),
    #[error("a calibration names \"{0}\", which is not a channel in the spend data")]
    UnknownChannel(String),
    #[error("the holdout of {holdout} periods leaves fewer than {minimum} periods to fit")]
    HoldoutTooLong { holdout: usize, minimum: usize },
    #[error("the Weibull adstock's max_lag must be at most {MAX_WEIBULL_LAG} periods")]
    LagTooLong,
}

impl Design {
    pub fn new(data: &MediaData, spec: &ModelSpec) -> Result<Design, SpecError> {
        if matches!(spec.adstock, Adstock::Weibull { max_lag } if max_lag > MAX_WEIBULL_LAG) {
            return Err(SpecError::LagTooLong);
        }
        let periods = data.len();
        let minimum = 8;
        if spec.holdout_periods + minimum > periods {
            return Err(SpecError::HoldoutTooLong {
                holdout: spec.holdout_periods,
                minimum,
            });
        }
        let fitted_periods = periods - spec.holdout_periods;
        let mut roi_priors = Vec::with_capacity(data.channels.len());
        for channel in &data.channels {
            let calibrated = spec
                .calibrations
                .iter()
                .find(|calibration| calibration.channel == channel.name)
                .map(|calibration| RoiPrior {
                    mean: calibration.roi,
                    sd: calibration.standard_error,
                });
            let prior = calibrated
                .or_else(|| spec.roi_priors.get(&channel.name).copied())
                .unwrap_or_else(RoiPrior::meridian_default);
            if !prior.is_valid() {
                return Err(SpecError::InvalidPrior(channel.name.clone()));
            }
            roi_priors.push(prior.log_normal());
        }
        let known = |name: &String| data.channels.iter().any(|channel| &channel.name == name);
        if let Some(unknown) = spec
            .calibrations
            .iter()
            .map(|calibration| &calibration.channel)
            .chain(spec.roi_priors.keys())
            .find(|name| !known(name))
        {
            return Err(SpecError::UnknownChannel(unknown.clone()));
        }

        let mean_spend: Vec<f64> = data
            .channels
            .iter()
            .map(|channel| mean(&channel.values[..fitted_periods]))
            .collect();
        let relative_spend = data
            .channels
            .iter()
            .zip(&mean_spend)
            .map(|(channel, average)| {
                channel
                    .values
                    .iter()
                    .map(|spend| spend / average.max(f64::MIN_POSITIVE))
                    .collect()
            })
            .collect();
        let kpi_scale = mean(&data.kpi[..fitted_periods]).max(f64::MIN_POSITIVE);
        Ok(Design {
            channels: data
                .channels
                .iter()
                .map(|channel| channel.name.clone())
                .collect(),
            relative_spend,
            total_spend: mean_spend
                .iter()
                .map(|average| average * fitted_periods as f64)
                .collect(),
            mean_spend,
            kpi_scale,
            scaled_kpi: data.kpi.iter().map(|kpi| kpi / kpi_scale).collect(),
            fitted_periods,
            baseline: baseline_terms(data, spec, fitted_periods),
            roi_priors,
            adstock: match spec.adstock {
                Adstock::Weibull { max_lag: 0 } => Adstock::Weibull {
                    max_lag: match data.granularity {
                        Granularity::Week => WEIBULL_WEEKS,
                        Granularity::Day => WEIBULL_DAYS,
                    },
                },
                chosen => chosen,
            },
        })
    }

    pub fn periods(&self) -> usize {
        self.scaled_kpi.len()
    }

    /// Unconstrained coordinates per channel: log ROI, the carry-over's, log half saturation,
    /// log Hill shape.
    pub fn per_channel(&self) -> usize {
        1 + self.adstock.coordinates() + 2
    }

    pub fn dimension(&self) -> usize {
        self.channels.len() * self.per_channel() + self.baseline.len() + 1
    }

    /// A starting point in the middle of the priors.
    pub fn initial_position(&self) -> Vec<f64> {
        let mut position = Vec::with_capacity(self.dimension());
        for &(roi_location, _) in &self.roi_priors {
            position.push(roi_location.min(0.0));
            match self.adstock {
                Adstock::Geometric => position.push(logit(0.25)),
                Adstock::Weibull { .. } => {
                    position.extend([WEIBULL_SHAPE_PRIOR.0, WEIBULL_SCALE_PRIOR.0]);
                }
            }
            position.extend([HALF_SATURATION_PRIOR.0, SHAPE_PRIOR.0]);
        }
        position.extend(self.baseline.iter().map(|term| term.prior_mean));
        position.push((0.1f64).ln());
        position
    }
}

/// Intercept, trend, seasonality and controls, each with a prior suited to a KPI of mean 1.
fn baseline_terms(data: &MediaData, spec: &ModelSpec, fitted_periods: usize) -> Vec<BaselineTerm> {
    let periods = data.len();
    let mut terms = vec![
        BaselineTerm {
            name: "intercept".into(),
            values: vec![1.0; periods],
            prior_mean: 0.6,
            prior_sd: 0.5,
        },
        BaselineTerm {
            name: "trend".into(),
            // Zero at the start, one at the end of the fitted periods.
            values: (0..periods)
                .map(|period| period as f64 / fitted_periods.max(2).saturating_sub(1) as f64)
                .collect(),
            prior_mean: 0.0,
            prior_sd: 0.5,
        },
    ];
    let mut seasonal = |name: &str, period_length: f64, harmonics: usize| {
        for harmonic in 1..=harmonics {
            let angle = |period: usize| {
                2.0 * std::f64::consts::PI * harmonic as f64 * period as f64 / period_length
            };
            for (function, label) in [(f64::sin as fn(f64) -> f64, "sin"), (f64::cos, "cos")] {
                terms.push(BaselineTerm {
                    name: format!("{name}_{label}_{harmonic}"),
                    values: (0..periods).map(|period| function(angle(period))).collect(),
                    prior_mean: 0.0,
                    prior_sd: 0.2,
                });
            }
        }
    };
    if data.granularity == Granularity::Day {
        seasonal("weekly", 7.0, spec.weekly_harmonics.min(3));
    }
    let years_covered = data.len() as f64 / data.granularity.periods_per_year();
    if years_covered >= 1.0 {
        seasonal(
            "yearly",
            data.granularity.periods_per_year(),
            spec.yearly_harmonics.min(10),
        );
    }
    for control in &data.controls {
        let fitted = &control.values[..fitted_periods];
        let average = mean(fitted);
        let spread = standard_deviation(fitted);
        let spread = if spread > 0.0 { spread } else { 1.0 };
        terms.push(BaselineTerm {
            name: control.name.clone(),
            values: control
                .values
                .iter()
                .map(|value| (value - average) / spread)
                .collect(),
            prior_mean: 0.0,
            prior_sd: 0.3,
        });
    }
    terms
}

/// The model's parameters in their natural units, read from an unconstrained position.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    pub roi: Vec<f64>,
    pub shapes: Vec<Shape>,
    pub baseline: Vec<f64>,
    /// Noise standard deviation, in units of the mean KPI.
    pub noise: f64,
}

impl Parameters {
    pub fn from_position(design: &Design, position: &[f64]) -> Parameters {
        let channels = design.channels.len();
        let mut roi = Vec::with_capacity(channels);
        let mut shapes = Vec::with_capacity(channels);
        let per_channel = design.per_channel();
        let channels_end = channels * per_channel;
        for coordinates in position[..channels_end].chunks_exact(per_channel) {
            roi.push(coordinates[0].exp());
            let carry_over = match design.adstock {
                Adstock::Geometric => CarryOver::Geometric {
                    decay: sigmoid(coordinates[1]),
                },
                Adstock::Weibull { max_lag } => CarryOver::Weibull {
                    shape: coordinates[1].exp(),
                    scale: coordinates[2].exp(),
                    max_lag,
                },
            };
            let hill = &coordinates[per_channel - 2..];
            shapes.push(Shape {
                carry_over,
                saturation: Hill {
                    half_saturation: hill[0].exp(),
                    shape: hill[1].exp(),
                },
            });
        }
        let baseline_end = channels_end + design.baseline.len();
        Parameters {
            roi,
            shapes,
            baseline: position[channels_end..baseline_end].to_vec(),
            noise: position[baseline_end].exp(),
        }
    }
}

/// `log N(value | mean, sd)` up to a constant, and its derivative in `value`.
fn normal(value: f64, (location, scale): (f64, f64)) -> (f64, f64) {
    let standardised = (value - location) / scale;
    (-0.5 * standardised * standardised, -standardised / scale)
}

/// The unnormalised log posterior and its gradient; holds scratch space so that evaluating it
/// allocates nothing.
#[derive(Debug, Clone)]
pub struct Density {
    design: Arc<Design>,
    saturated: Vec<Vec<f64>>,
    gradients: Vec<Vec<Gradient>>,
    mean: Vec<f64>,
}

impl Density {
    pub fn new(design: Arc<Design>) -> Self {
        let fitted = design.fitted_periods;
        let channels = design.channels.len();
        Density {
            design,
            saturated: vec![vec![0.0; fitted]; channels],
            gradients: vec![vec![[0.0; MAX_SHAPE_COORDINATES]; fitted]; channels],
            mean: vec![0.0; fitted],
        }
    }

    pub fn design(&self) -> &Design {
        &self.design
    }

    /// Writes the gradient into `gradient` and returns the log density; `None` where it is
    /// not finite (the sampler treats that as a divergence).
    pub fn log_density(&mut self, position: &[f64], gradient: &mut [f64]) -> Option<f64> {
        let design = Arc::clone(&self.design);
        let fitted = design.fitted_periods;
        let channels = design.channels.len();
        let parameters = Parameters::from_position(&design, position);
        gradient.fill(0.0);
        let mut log_density = 0.0;

        self.mean.fill(0.0);
        let per_channel = design.per_channel();
        let baseline_start = channels * per_channel;
        for (term, coefficient) in design.baseline.iter().zip(&parameters.baseline) {
            for (mean, value) in self.mean.iter_mut().zip(&term.values[..fitted]) {
                *mean += coefficient * value;
            }
        }
        let mut coefficients = Vec::with_capacity(channels);
        for channel in 0..channels {
            parameters.shapes[channel].saturated_adstock(
                &design.relative_spend[channel][..fitted],
                &mut self.saturated[channel],
                Some(&mut self.gradients[channel]),
            );
            let total: f64 = self.saturated[channel].iter().sum();
            if total <= 0.0 {
                return None;
            }
            let coefficient =
                parameters.roi[channel] * design.total_spend[channel] / design.kpi_scale / total;
            for (mean, saturated) in self.mean.iter_mut().zip(&self.saturated[channel]) {
                *mean += coefficient * saturated;
            }
            coefficients.push((coefficient, total));
        }

        let noise = parameters.noise;
        let precision = 1.0 / (noise * noise);
        let mut squared_residuals = 0.0;
        for (mean, kpi) in self.mean.iter_mut().zip(&design.scaled_kpi[..fitted]) {
            let residual = kpi - *mean;
            squared_residuals += residual * residual;
            // From here on `mean` holds d log likelihood / d mean.
            *mean = residual * precision;
        }
        log_density += -(fitted as f64) * noise.ln() - 0.5 * squared_residuals * precision;
        let noise_at = baseline_start + design.baseline.len();
        gradient[noise_at] = -(fitted as f64) + squared_residuals * precision;
        // HalfNormal prior on the noise, with the Jacobian of the log transform.
        let scaled_noise = noise / NOISE_PRIOR_SCALE;
        log_density += -0.5 * scaled_noise * scaled_noise + noise.ln();
        gradient[noise_at] += -scaled_noise * scaled_noise + 1.0;

        let weights = &self.mean;
        for (index, term) in design.baseline.iter().enumerate() {
            let (prior, slope) =
                normal(parameters.baseline[index], (term.prior_mean, term.prior_sd));
            let likelihood_slope: f64 = weights
                .iter()
                .zip(&term.values[..fitted])
                .map(|(weight, value)| weight * value)
                .sum();
            log_density += prior;
            gradient[baseline_start + index] = likelihood_slope + slope;
        }

        for (channel, &(coefficient, total)) in coefficients.iter().enumerate() {
            let at = channel * per_channel;
            let saturated = &self.saturated[channel];
            let weighted_saturation: f64 = weights.iter().zip(saturated).map(|(w, h)| w * h).sum();
            // d/d log roi: the contribution scales with roi.
            let (roi_prior, roi_slope) = normal(position[at], design.roi_priors[channel]);
            log_density += roi_prior;
            gradient[at] = coefficient * weighted_saturation + roi_slope;
            // d/d shape coordinates: the contribution is coefficient * h_t, and the coefficient
            // holds 1 / H, so each h_t moves against the sum.
            for coordinate in 0..per_channel - 1 {
                let mut weighted_slope = 0.0;
                let mut total_slope = 0.0;
                for (weight, slope) in weights.iter().zip(&self.gradients[channel]) {
                    weighted_slope += weight * slope[coordinate];
                    total_slope += slope[coordinate];
                }
                gradient[at + 1 + coordinate] =
                    coefficient * (weighted_slope - weighted_saturation * total_slope / total);
            }
            match parameters.shapes[channel].carry_over {
                CarryOver::Geometric { decay } => {
                    // Beta prior on the decay with the Jacobian of the logit transform.
                    let (alpha, beta) = DECAY_PRIOR;
                    log_density += alpha * decay.ln() + beta * (1.0 - decay).ln();
                    gradient[at + 1] += alpha * (1.0 - decay) - beta * decay;
                }
                CarryOver::Weibull { .. } => {
                    let (shape_prior, shape_slope) = normal(position[at + 1], WEIBULL_SHAPE_PRIOR);
                    let (scale_prior, scale_slope) = normal(position[at + 2], WEIBULL_SCALE_PRIOR);
                    log_density += shape_prior + scale_prior;
                    gradient[at + 1] += shape_slope;
                    gradient[at + 2] += scale_slope;
                }
            }
            let hill = at + per_channel - 2;
            let (half_prior, half_slope) = normal(position[hill], HALF_SATURATION_PRIOR);
            let (shape_prior, shape_slope) = normal(position[hill + 1], SHAPE_PRIOR);
            log_density += half_prior + shape_prior;
            gradient[hill] += half_slope;
            gradient[hill + 1] += shape_slope;
        }
        log_density.is_finite().then_some(log_density)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Series;

    pub(crate) fn small_data() -> MediaData {
        let periods = 60;
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let spend = |phase: usize, level: f64| Series {
            name: format!("channel_{phase}"),
            values: (0..periods)
                .map(|period| level * (1.0 + 0.5 * (((period + phase) % 9) as f64 / 9.0)))
                .collect(),
        };
        MediaData {
            granularity: Granularity::Week,
            periods: (0..periods)
                .map(|period| start + chrono::Duration::weeks(period as i64))
                .collect(),
            channels: vec![spend(0, 100.0), spend(4, 300.0)],
            kpi: (0..periods)
                .map(|period| 1000.0 + 5.0 * period as f64 + 30.0 * ((period % 5) as f64))
                .collect(),
            controls: vec![Series {
                name: "price".into(),
                values: (0..periods).map(|period| (period % 3) as f64).collect(),
            }],
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        for adstock in [Adstock::Geometric, Adstock::Weibull { max_lag: 0 }] {
            gradient_matches_finite_differences_with(adstock);
        }
    }

    fn gradient_matches_finite_differences_with(adstock: Adstock) {
        let spec = ModelSpec {
            holdout_periods: 6,
            adstock,
            ..ModelSpec::default()
        };
        let design = Arc::new(Design::new(&small_data(), &spec).expect("design"));
        let mut density = Density::new(Arc::clone(&design));
        let position: Vec<f64> = design
            .initial_position()
            .iter()
            .enumerate()
            .map(|(index, value)| value + 0.05 * ((index * 7) % 5) as f64 - 0.1)
            .collect();
        let mut gradient = vec![0.0; position.len()];
        density
            .log_density(&position, &mut gradient)
            .expect("finite");
        let mut scratch = vec![0.0; position.len()];
        for coordinate in 0..position.len() {
            let step = 1e-6;
            let mut up = position.clone();
            up[coordinate] += step;
            let mut down = position.clone();
            down[coordinate] -= step;
            let numeric = (density.log_density(&up, &mut scratch).expect("finite")
                - density.log_density(&down, &mut scratch).expect("finite"))
                / (2.0 * step);
            let analytic = gradient[coordinate];
            assert!(
                (numeric - analytic).abs() < 1e-4 * (1.0 + analytic.abs()),
                "{adstock:?} coordinate {coordinate}: numeric {numeric}, analytic {analytic}"
            );
        }
    }

    #[test]
    fn calibration_replaces_the_prior_and_unknown_channels_are_refused() {
        let data = small_data();
        let spec = ModelSpec {
            calibrations: vec![Calibration {
                channel: "channel_4".into(),
                roi: 2.0,
                standard_error: 0.2,
                description: "geo lift test".into(),
            }],
            ..ModelSpec::default()
        };
        let design = Design::new(&data, &spec).expect("design");
        let (location, scale) = design.roi_priors[1];
        let prior_mean = (location + scale * scale / 2.0).exp();
        assert!((prior_mean - 2.0).abs() < 1e-9);
        assert!(scale < 0.11);
        let unknown = ModelSpec {
            calibrations: vec![Calibration {
                channel: "fax".into(),
                roi: 2.0,
                standard_error: 0.2,
                description: String::new(),
            }],
            ..ModelSpec::default()
        };
        assert_eq!(
            Design::new(&data, &unknown),
            Err(SpecError::UnknownChannel("fax".into()))
        );
        let long_lag = ModelSpec {
            adstock: Adstock::Weibull {
                max_lag: MAX_WEIBULL_LAG + 1,
            },
            ..ModelSpec::default()
        };
        assert_eq!(Design::new(&data, &long_lag), Err(SpecError::LagTooLong));
    }
}
