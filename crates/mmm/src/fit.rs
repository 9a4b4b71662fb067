//! Fitting: the sampler's draws turned into what a media planner reads (contributions, ROI and
//! marginal ROI with credible intervals, response curves, carry-over, baseline, fit quality)
//! and into the response model the optimiser plans with.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::curve::CarryOver;
use crate::data::{DataError, MediaData};
use crate::diagnostics::{effective_sample_size, split_r_hat};
use crate::model::{Design, ModelSpec, Parameters, RoiPrior, SpecError};
use crate::response::{ChannelCurve, ResponseModel};
use crate::sampling::{Draws, SamplerSettings, SamplingError, sample};

/// Draws kept for reports and planning, spread evenly over all chains.
const KEPT_DRAWS: usize = 1000;
/// Points on each response curve.
const CURVE_POINTS: usize = 41;
/// Response curves reach this multiple of the mean spend.
const CURVE_REACH: f64 = 3.0;
const R_HAT_LIMIT: f64 = 1.01;
/// Effective draws per chain below which estimates are too noisy (Stan warns at 100 overall).
const MIN_ESS_PER_CHAIN: f64 = 100.0;

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Sampling(#[from] SamplingError),
}

/// A posterior summary: mean and the central 90 % credible interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn of(mut values: Vec<f64>) -> Interval {
        values.retain(|value| value.is_finite());
        if values.is_empty() {
            return Interval {
                mean: f64::NAN,
                lower: f64::NAN,
                upper: f64::NAN,
            };
        }
        values.sort_by(f64::total_cmp);
        let quantile = |share: f64| {
            let position = share * (values.len() - 1) as f64;
            let below = position.floor() as usize;
            let above = position.ceil() as usize;
            values[below] + (values[above] - values[below]) * (position - below as f64)
        };
        Interval {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            lower: quantile(0.05),
            upper: quantile(0.95),
        }
    }

    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelReport {
    pub channel: String,
    /// Spend over the fitted periods.
    pub spend: f64,
    /// KPI caused over the fitted periods.
    pub contribution: Interval,
    /// Contribution over spend in the fitted periods.
    pub roi: Interval,
    /// Extra KPI per extra unit of spend at the historical mean spend.
    pub marginal_roi: Interval,
    /// Share of the effect carried into the next period.
    pub decay: Interval,
    /// The Weibull adstock's shape and scale (in periods), when the model uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weibull_shape: Option<Interval>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weibull_scale: Option<Interval>,
    /// Periods until a period's effect halves.
    pub half_life: Interval,
    /// Spend per period at which the effect is half its maximum.
    pub half_saturation_spend: Interval,
    pub hill_shape: Interval,
    pub roi_prior: RoiPrior,
    pub r_hat: f64,
    pub effective_sample_size: f64,
}

/// A channel's response to steady spend per period, with its 90 % band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseCurve {
    pub channel: String,
    pub spend: Vec<f64>,
    pub mean: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitQuality {
    /// On the fitted periods, of the posterior mean prediction.
    pub r_squared: f64,
    /// Mean absolute percentage error on the fitted periods.
    pub mape: f64,
    pub holdout_periods: usize,
    /// Mean absolute percentage error on the held-out tail, when there is one.
    pub holdout_mape: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    pub chains: usize,
    pub draws_per_chain: u64,
    pub tune_per_chain: u64,
    pub seed: u64,
    pub divergences: u64,
    pub max_tree_depth_hits: u64,
    pub max_r_hat: f64,
    pub min_effective_sample_size: f64,
    pub gradient_evaluations: u64,
    pub converged: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    pub periods: Vec<NaiveDate>,
    pub kpi: Vec<f64>,
    pub channels: Vec<ChannelReport>,
    /// Posterior mean contribution per channel per period (all periods, held-out included).
    pub contributions: Vec<Vec<f64>>,
    /// Posterior mean baseline per period.
    pub baseline: Vec<f64>,
    /// Posterior mean prediction per period.
    pub prediction: Vec<f64>,
    pub response_curves: Vec<ResponseCurve>,
    pub fit: FitQuality,
    pub convergence: Convergence,
    pub warnings: Vec<String>,
}

/// Everything a fit produces: the report and the response model to plan with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    pub report: FitReport,
    pub response: ResponseModel,
}

/// The checks [`fit`] makes before it samples, for callers that answer at once and fit later;
/// returns the data's warnings.
pub fn check(
    data: &MediaData,
    spec: &ModelSpec,
    settings: &SamplerSettings,
) -> Result<Vec<String>, FitError> {
    settings.check()?;
    let design = Design::new(data, spec)?;
    Ok(data.check(design.dimension(), design.fitted_periods)?)
}

/// Fits the model to `data`: checks, samples, summarises.
pub fn fit(
    data: &MediaData,
    spec: &ModelSpec,
    settings: &SamplerSettings,
) -> Result<Fit, FitError> {
    let design = Arc::new(Design::new(data, spec)?);
    let mut warnings = data.check(design.dimension(), design.fitted_periods)?;
    let draws = sample(Arc::clone(&design), settings)?;
    let convergence = convergence(&design, &draws, settings, &mut warnings);
    Ok(summarise(data, &design, &draws, convergence, warnings))
}

fn convergence(
    design: &Design,
    draws: &Draws,
    settings: &SamplerSettings,
    warnings: &mut Vec<String>,
) -> Convergence {
    let mut max_r_hat: f64 = 1.0;
    let mut min_ess = f64::INFINITY;
    for coordinate in 0..design.dimension() {
        let chains = coordinate_chains(draws, coordinate);
        max_r_hat = max_r_hat.max(split_r_hat(&chains));
        min_ess = min_ess.min(effective_sample_size(&chains));
    }
    let divergences: u64 = draws.divergences.iter().sum();
    let max_tree_depth_hits: u64 = draws.max_depth_hits.iter().sum();
    if divergences > 0 {
        warnings.push(format!(
            "{divergences} divergent transitions: parts of the posterior may be missed; more informative priors or a longer tune help"
        ));
    }
    if max_r_hat > R_HAT_LIMIT {
        warnings.push(format!(
            "R-hat reaches {max_r_hat:.3} (above {R_HAT_LIMIT}): the chains disagree, draw longer"
        ));
    }
    let ess_floor = MIN_ESS_PER_CHAIN * settings.chains as f64;
    if min_ess < ess_floor {
        warnings.push(format!(
            "the smallest effective sample size is {min_ess:.0} (below {ess_floor:.0}): intervals are imprecise, draw longer"
        ));
    }
    if max_tree_depth_hits > 0 {
        warnings.push(format!(
            "{max_tree_depth_hits} draws reached the maximum tree depth"
        ));
    }
    Convergence {
        chains: settings.chains,
        draws_per_chain: settings.draws,
        tune_per_chain: settings.tune,
        seed: settings.seed,
        divergences,
        max_tree_depth_hits,
        max_r_hat,
        min_effective_sample_size: min_ess,
        gradient_evaluations: draws.gradient_evaluations,
        converged: divergences == 0 && max_r_hat <= R_HAT_LIMIT && min_ess >= ess_floor,
    }
}

fn coordinate_chains(draws: &Draws, coordinate: usize) -> Vec<Vec<f64>> {
    draws
        .chains
        .iter()
        .map(|chain| chain.iter().map(|draw| draw[coordinate]).collect())
        .collect()
}

/// One draw's predictions over all periods, in KPI units.
struct DrawOutcome {
    parameters: Parameters,
    contributions: Vec<Vec<f64>>,
    baseline: Vec<f64>,
    curves: Vec<ChannelCurve>,
}

fn outcome(design: &Design, position: &[f64]) -> DrawOutcome {
    let parameters = Parameters::from_position(design, position);
    let periods = design.periods();
    let fitted = design.fitted_periods;
    let scale = design.kpi_scale;
    let mut baseline = vec![0.0; periods];
    for (term, coefficient) in design.baseline.iter().zip(&parameters.baseline) {
        for (value, column) in baseline.iter_mut().zip(&term.values) {
            *value += coefficient * column * scale;
        }
    }
    let mut contributions = Vec::with_capacity(design.channels.len());
    let mut curves = Vec::with_capacity(design.channels.len());
    let mut saturated = vec![0.0; periods];
    for (channel, shape) in parameters.shapes.iter().enumerate() {
        shape.saturated_adstock(&design.relative_spend[channel], &mut saturated, None);
        let total: f64 = saturated[..fitted].iter().sum();
        let coefficient =
            parameters.roi[channel] * design.total_spend[channel] / total.max(f64::MIN_POSITIVE);
        contributions.push(saturated.iter().map(|h| coefficient * h).collect());
        curves.push(ChannelCurve {
            coefficient,
            saturation: shape.saturation,
        });
    }
    DrawOutcome {
        parameters,
        contributions,
        baseline,
        curves,
    }
}

fn summarise(
    data: &MediaData,
    design: &Design,
    draws: &Draws,
    convergence: Convergence,
    warnings: Vec<String>,
) -> Fit {
    let all: Vec<&Vec<f64>> = draws.chains.iter().flatten().collect();
    let stride = all.len().div_ceil(KEPT_DRAWS).max(1);
    let outcomes: Vec<DrawOutcome> = all
        .iter()
        .step_by(stride)
        .map(|position| outcome(design, position))
        .collect();
    let periods = design.periods();
    let fitted = design.fitted_periods;
    let channel_count = design.channels.len();
    let kept = outcomes.len() as f64;
    let mean_over =
        |value: &dyn Fn(&DrawOutcome) -> f64| outcomes.iter().map(value).sum::<f64>() / kept;
    let baseline: Vec<f64> = (0..periods)
        .map(|period| mean_over(&|draw| draw.baseline[period]))
        .collect();
    let contributions: Vec<Vec<f64>> = (0..channel_count)
        .map(|channel| {
            (0..periods)
                .map(|period| mean_over(&|draw| draw.contributions[channel][period]))
                .collect()
        })
        .collect();
    let prediction: Vec<f64> = (0..periods)
        .map(|period| {
            baseline[period]
                + contributions
                    .iter()
                    .map(|channel| channel[period])
                    .sum::<f64>()
        })
        .collect();
    let response = ResponseModel {
        channels: design.channels.clone(),
        mean_spend: design.mean_spend.clone(),
        draws: outcomes.iter().map(|draw| draw.curves.clone()).collect(),
    };

    let channels = (0..channel_count)
        .map(|channel| {
            let per_draw = |value: &dyn Fn(&DrawOutcome) -> f64| {
                Interval::of(outcomes.iter().map(value).collect())
            };
            let mean_spend = design.mean_spend[channel];
            let per_channel = design.per_channel();
            let coordinates: Vec<Vec<Vec<f64>>> = (0..per_channel)
                .map(|offset| coordinate_chains(draws, channel * per_channel + offset))
                .collect();
            let weibull = |part: fn(f64, f64) -> f64| {
                let values: Option<Vec<f64>> = outcomes
                    .iter()
                    .map(|draw| match draw.parameters.shapes[channel].carry_over {
                        CarryOver::Weibull { shape, scale, .. } => Some(part(shape, scale)),
                        CarryOver::Geometric { .. } => None,
                    })
                    .collect();
                values.map(Interval::of)
            };
            let (location, scale) = design.roi_priors[channel];
            let prior_mean = (location + scale * scale / 2.0).exp();
            ChannelReport {
                channel: design.channels[channel].clone(),
                spend: design.total_spend[channel],
                contribution: per_draw(&|draw| draw.contributions[channel][..fitted].iter().sum()),
                roi: per_draw(&|draw| draw.parameters.roi[channel]),
                marginal_roi: Interval::of(
                    (0..response.draw_count())
                        .map(|draw| response.marginal(draw, channel, mean_spend))
                        .collect(),
                ),
                decay: per_draw(&|draw| draw.parameters.shapes[channel].carry_over.decay()),
                weibull_shape: weibull(|shape, _| shape),
                weibull_scale: weibull(|_, scale| scale),
                half_life: per_draw(&|draw| draw.parameters.shapes[channel].carry_over.half_life()),
                half_saturation_spend: per_draw(&|draw| {
                    draw.parameters.shapes[channel].saturation.half_saturation * mean_spend
                }),
                hill_shape: per_draw(&|draw| draw.parameters.shapes[channel].saturation.shape),
                roi_prior: RoiPrior {
                    mean: prior_mean,
                    sd: prior_mean * (scale * scale).exp_m1().sqrt(),
                },
                r_hat: coordinates
                    .iter()
                    .map(|chains| split_r_hat(chains))
                    .fold(1.0, f64::max),
                effective_sample_size: coordinates
                    .iter()
                    .map(|chains| effective_sample_size(chains))
                    .fold(f64::INFINITY, f64::min),
            }
        })
        .collect();

    let response_curves = (0..channel_count)
        .map(|channel| {
            let spend: Vec<f64> = (0..CURVE_POINTS)
                .map(|point| {
                    design.mean_spend[channel] * CURVE_REACH * point as f64
                        / (CURVE_POINTS - 1) as f64
                })
                .collect();
            let intervals: Vec<Interval> = spend
                .iter()
                .map(|level| {
                    Interval::of(
                        (0..response.draw_count())
                            .map(|draw| response.response(draw, channel, *level))
                            .collect(),
                    )
                })
                .collect();
            ResponseCurve {
                channel: design.channels[channel].clone(),
                mean: intervals.iter().map(|interval| interval.mean).collect(),
                lower: intervals.iter().map(|interval| interval.lower).collect(),
                upper: intervals.iter().map(|interval| interval.upper).collect(),
                spend,
            }
        })
        .collect();

    let report = FitReport {
        periods: data.periods.clone(),
        kpi: data.kpi.clone(),
        channels,
        contributions,
        baseline,
        fit: fit_quality(&data.kpi, &prediction, fitted),
        prediction,
        response_curves,
        convergence,
        warnings,
    };
    Fit { report, response }
}

fn mean_absolute_percentage_error(actual: &[f64], predicted: &[f64]) -> Option<f64> {
    let errors: Vec<f64> = actual
        .iter()
        .zip(predicted)
        .filter(|(actual, _)| **actual != 0.0)
        .map(|(actual, predicted)| ((actual - predicted) / actual).abs())
        .collect();
    (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64)
}

fn fit_quality(kpi: &[f64], prediction: &[f64], fitted: usize) -> FitQuality {
    let actual = &kpi[..fitted];
    let average = crate::data::mean(actual);
    let total: f64 = actual.iter().map(|value| (value - average).powi(2)).sum();
    let residual: f64 = actual
        .iter()
        .zip(prediction)
        .map(|(value, predicted)| (value - predicted).powi(2))
        .sum();
    FitQuality {
        r_squared: if total > 0.0 {
            1.0 - residual / total
        } else {
            0.0
        },
        mape: mean_absolute_percentage_error(actual, &prediction[..fitted]).unwrap_or(0.0),
        holdout_periods: kpi.len() - fitted,
        holdout_mape: mean_absolute_percentage_error(&kpi[fitted..], &prediction[fitted..]),
    }
}
