//! The budget optimiser. It maximises the posterior expected KPI of a budget split over a
//! planning horizon in two stages:
//!
//! 1. **Search**: simulated annealing over whole budget splits, each proposal moving money from
//!    one channel to another, evaluated from tabulated expected response curves. Millions of
//!    splits are scored (the count is reported); many starting points (the current split, an
//!    even split, random splits) guard against the S-shaped curves' local optima.
//! 2. **Refinement with a certificate**: from the best split, the Lagrange multiplier `lambda` is
//!    found by bisection so that every channel not at a bound spends where its marginal ROI
//!    equals `lambda`. The result is accepted only if it scores at least as well, and the
//!    optimality conditions are checked on the exact posterior curves: channels inside their
//!    bounds have equal marginal ROI (within a tolerance), channels at the upper bound a marginal
//!    ROI at or above it, channels at the lower bound at or below it.
//!
//! Spend is steady over the horizon, so each channel earns its steady-state response.

use std::collections::BTreeMap;

use nuts_rs::rand::rngs::ChaCha8Rng;
use nuts_rs::rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::fit::Interval;
use crate::response::ResponseModel;

/// Points per tabulated curve.
const TABLE_POINTS: usize = 2048;
/// Relative tolerance of the equal-marginal-ROI conditions.
pub const CERTIFICATE_TOLERANCE: f64 = 0.01;
pub const DEFAULT_SCENARIOS: u64 = 5_000_000;
pub const MAX_SCENARIOS: u64 = 200_000_000;
/// Independent annealing runs the scenarios are shared among.
const RESTARTS: u64 = 32;

/// Where a channel's spend may go over the horizon: absolute amounts, or multiples of what
/// the channel spent at its historical pace over the same number of periods.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Bound {
    Relative { min: f64, max: f64 },
    Absolute { min: f64, max: f64 },
}

impl Default for Bound {
    /// Half to one and a half times the historical pace, as planners usually start.
    fn default() -> Self {
        Bound::Relative { min: 0.5, max: 1.5 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Spend exactly this total over the horizon.
    Budget(f64),
    /// Spend on each channel while its marginal ROI stays at or above this.
    TargetMarginalRoi(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub horizon_periods: u32,
    pub goal: Goal,
    #[serde(default)]
    pub default_bound: Bound,
    /// Bounds for named channels.
    #[serde(default)]
    pub bounds: BTreeMap<String, Bound>,
    #[serde(default = "default_scenarios")]
    pub scenarios: u64,
    #[serde(default)]
    pub seed: u64,
}

fn default_scenarios() -> u64 {
    DEFAULT_SCENARIOS
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the horizon must be between 1 and 520 periods")]
    Horizon,
    #[error("the budget must be a positive number")]
    Budget,
    #[error("the target marginal ROI must be a positive number")]
    Target,
    #[error("scenarios must be between 1,000 and {MAX_SCENARIOS}")]
    Scenarios,
    #[error("the bound of \"{0}\" needs 0 <= min <= max, finite")]
    InvalidBound(String),
    #[error("\"{0}\" is not a channel of this model")]
    UnknownChannel(String),
    #[error(
        "the budget {budget:.2} is outside what the bounds allow ({minimum:.2} to {maximum:.2})"
    )]
    Infeasible {
        budget: f64,
        minimum: f64,
        maximum: f64,
    },
    #[error("the model has no posterior draws")]
    NoDraws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    Lower,
    Interior,
    Upper,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPlan {
    pub channel: String,
    /// Spend over the horizon at the historical pace.
    pub current: f64,
    /// Recommended spend over the horizon.
    pub recommended: f64,
    pub minimum: f64,
    pub maximum: f64,
    pub position: Position,
    /// KPI the recommended spend is expected to earn over the horizon.
    pub expected_kpi: Interval,
    /// Posterior expected marginal ROI at the recommended spend.
    pub marginal_roi: f64,
}

/// The optimality conditions, checked on the exact posterior curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// The common marginal ROI of the channels inside their bounds (the target in flexible
    /// mode).
    pub lambda: f64,
    /// Largest relative gap between an interior channel's marginal ROI and `lambda`.
    pub max_interior_gap: f64,
    pub tolerance: f64,
    /// Channels that break a condition, with the reason.
    pub violations: Vec<String>,
    pub holds: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetPlan {
    pub horizon_periods: u32,
    pub goal: Goal,
    pub total_budget: f64,
    pub channels: Vec<ChannelPlan>,
    /// Media-driven KPI over the horizon: recommended split, and the current split scaled to
    /// the same total.
    pub expected_kpi: Interval,
    pub current_expected_kpi: Interval,
    /// Recommended minus current, per posterior draw.
    pub uplift: Interval,
    /// Share of posterior draws in which the recommended split beats the current one.
    pub probability_better: f64,
    pub scenarios_evaluated: u64,
    pub search_seconds: f64,
    pub certificate: Certificate,
}

/// Bounds per period for each channel, resolved from the request.
struct Limits {
    lower: Vec<f64>,
    upper: Vec<f64>,
}

fn resolve_limits(model: &ResponseModel, request: &PlanRequest) -> Result<Limits, PlanError> {
    for name in request.bounds.keys() {
        if !model.channels.contains(name) {
            return Err(PlanError::UnknownChannel(name.clone()));
        }
    }
    let horizon = f64::from(request.horizon_periods);
    let mut limits = Limits {
        lower: Vec::with_capacity(model.channels.len()),
        upper: Vec::with_capacity(model.channels.len()),
    };
    for (channel, name) in model.channels.iter().enumerate() {
        let bound = request
            .bounds
            .get(name)
            .copied()
            .unwrap_or(request.default_bound);
        let (min, max) = match bound {
            Bound::Relative { min, max } => (
                min * model.mean_spend[channel],
                max * model.mean_spend[channel],
            ),
            Bound::Absolute { min, max } => (min / horizon, max / horizon),
        };
        if !(min.is_finite() && max.is_finite() && 0.0 <= min && min <= max) {
            return Err(PlanError::InvalidBound(name.clone()));
        }
        limits.lower.push(min);
        limits.upper.push(max);
    }
    Ok(limits)
}

/// Expected response and marginal response of one channel, tabulated between its bounds.
struct Table {
    lower: f64,
    step: f64,
    values: Vec<f64>,
    slopes: Vec<f64>,
}

impl Table {
    fn new(model: &ResponseModel, channel: usize, lower: f64, upper: f64) -> Table {
        let step = (upper - lower) / (TABLE_POINTS - 1) as f64;
        let (values, slopes) = (0..TABLE_POINTS)
            .map(|point| model.expected_response_and_marginal(channel, lower + step * point as f64))
            .unzip();
        Table {
            lower,
            step,
            values,
            slopes,
        }
    }

    /// One table per channel, built on every core.
    fn for_channels(model: &ResponseModel, limits: &Limits) -> Vec<Table> {
        let channels = model.channels.len();
        let workers = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        let per_worker = channels.div_ceil(workers.max(1)).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..channels)
                .step_by(per_worker)
                .map(|first| {
                    scope.spawn(move || {
                        (first..(first + per_worker).min(channels))
                            .map(|channel| {
                                Table::new(
                                    model,
                                    channel,
                                    limits.lower[channel],
                                    limits.upper[channel],
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|handle| handle.join().expect("a table worker does not panic"))
                .collect()
        })
    }

    fn interpolate(&self, series: &[f64], spend: f64) -> f64 {
        if self.step <= 0.0 {
            return series[0];
        }
        let position = ((spend - self.lower) / self.step).clamp(0.0, (TABLE_POINTS - 1) as f64);
        let below = (position as usize).min(TABLE_POINTS - 2);
        let share = position - below as f64;
        series[below] * (1.0 - share) + series[below + 1] * share
    }

    fn value(&self, spend: f64) -> f64 {
        self.interpolate(&self.values, spend)
    }

    fn slope(&self, spend: f64) -> f64 {
        self.interpolate(&self.slopes, spend)
    }

    fn upper(&self) -> f64 {
        self.lower + self.step * (TABLE_POINTS - 1) as f64
    }

    /// The spend on the falling side of the marginal curve where the marginal ROI equals
    /// `lambda`, clamped to the bounds.
    fn spend_at_marginal(&self, lambda: f64) -> f64 {
        let peak = self
            .slopes
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(index, _)| index);
        if self.slopes[peak] <= lambda {
            return self.lower;
        }
        let (mut low, mut high) = (self.lower + self.step * peak as f64, self.upper());
        if self.slope(high) >= lambda {
            return high;
        }
        for _ in 0..60 {
            let middle = 0.5 * (low + high);
            if self.slope(middle) >= lambda {
                low = middle;
            } else {
                high = middle;
            }
        }
        0.5 * (low + high)
    }
}

/// Scales `allocation` to `total` while respecting the limits (water filling).
fn fit_to_total(allocation: &mut [f64], limits: &Limits, total: f64) {
    for _ in 0..64 {
        for (channel, spend) in allocation.iter_mut().enumerate() {
            *spend = spend.clamp(limits.lower[channel], limits.upper[channel]);
        }
        let sum: f64 = allocation.iter().sum();
        let gap = total - sum;
        if gap.abs() <= 1e-9 * total.max(1.0) {
            return;
        }
        let room: f64 = allocation
            .iter()
            .enumerate()
            .map(|(channel, spend)| {
                if gap > 0.0 {
                    limits.upper[channel] - spend
                } else {
                    spend - limits.lower[channel]
                }
            })
            .sum();
        if room <= 0.0 {
            return;
        }
        for (channel, spend) in allocation.iter_mut().enumerate() {
            let channel_room = if gap > 0.0 {
                limits.upper[channel] - *spend
            } else {
                *spend - limits.lower[channel]
            };
            *spend += gap * channel_room / room;
        }
    }
}

fn score(tables: &[Table], allocation: &[f64]) -> f64 {
    tables
        .iter()
        .zip(allocation)
        .map(|(table, spend)| table.value(*spend))
        .sum()
}

/// One annealing run of `steps` proposals from `start`; returns the best split seen.
fn anneal(
    tables: &[Table],
    limits: &Limits,
    start: Vec<f64>,
    steps: u64,
    proposals: &mut ChaCha8Rng,
) -> (Vec<f64>, f64) {
    let channels = tables.len();
    let mut current = start;
    let mut current_score = score(tables, &current);
    let mut best = current.clone();
    let mut best_score = current_score;
    let total: f64 = current.iter().sum();
    let initial_temperature = 1e-3 * current_score.abs().max(1e-9);
    for step in 0..steps {
        let progress = step as f64 / steps as f64;
        let temperature = initial_temperature * (1.0 - progress).powi(3);
        let from = proposals.random_range(0..channels);
        let to = proposals.random_range(0..channels);
        if from == to {
            continue;
        }
        // Moves from a fifth of the budget down to a millionth, log-uniformly.
        let size = total * 0.2 * (1e-6f64).powf(proposals.random::<f64>()) * (1.0 - 0.9 * progress);
        let amount = size
            .min(current[from] - limits.lower[from])
            .min(limits.upper[to] - current[to]);
        if amount <= 0.0 {
            continue;
        }
        let change = tables[from].value(current[from] - amount) - tables[from].value(current[from])
            + tables[to].value(current[to] + amount)
            - tables[to].value(current[to]);
        let accept = change > 0.0
            || (temperature > 0.0 && proposals.random::<f64>() < (change / temperature).exp());
        if accept {
            current[from] -= amount;
            current[to] += amount;
            current_score += change;
            if current_score > best_score {
                best_score = current_score;
                best.clone_from(&current);
            }
        }
    }
    (best, best_score)
}

/// Equal marginal ROI among the channels the search left off their lower bound, by bisection
/// on `lambda` so that the split spends `total`.
fn equalise_marginal_roi(
    tables: &[Table],
    limits: &Limits,
    searched: &[f64],
    total: f64,
) -> (Vec<f64>, f64) {
    let active: Vec<bool> = searched
        .iter()
        .zip(&limits.lower)
        .zip(tables)
        .map(|((spend, lower), table)| *spend > lower + 2.0 * table.step)
        .collect();
    let split_at = |lambda: f64| -> Vec<f64> {
        tables
            .iter()
            .zip(&active)
            .zip(&limits.lower)
            .map(|((table, active), lower)| {
                if *active {
                    table.spend_at_marginal(lambda)
                } else {
                    *lower
                }
            })
            .collect()
    };
    let max_slope = tables
        .iter()
        .flat_map(|table| table.slopes.iter().copied())
        .fold(0.0, f64::max);
    let (mut low, mut high) = (0.0, max_slope.max(f64::MIN_POSITIVE));
    for _ in 0..100 {
        let middle = 0.5 * (low + high);
        if split_at(middle).iter().sum::<f64>() > total {
            low = middle;
        } else {
            high = middle;
        }
    }
    let lambda = 0.5 * (low + high);
    let mut split = split_at(lambda);
    fit_to_total(&mut split, limits, total);
    (split, lambda)
}

fn certify(
    model: &ResponseModel,
    limits: &Limits,
    allocation: &[f64],
    lambda: f64,
) -> (Certificate, Vec<Position>) {
    let mut violations = Vec::new();
    let mut positions = Vec::with_capacity(allocation.len());
    let mut max_interior_gap: f64 = 0.0;
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
    for (channel, spend) in allocation.iter().enumerate() {
        let marginal = model.expected_marginal(channel, *spend);
        let name = &model.channels[channel];
        let position = if near(*spend, limits.lower[channel]) {
            Position::Lower
        } else if near(*spend, limits.upper[channel]) {
            Position::Upper
        } else {
            Position::Interior
        };
        let gap = (marginal - lambda) / lambda.max(f64::MIN_POSITIVE);
        match position {
            Position::Interior => {
                max_interior_gap = max_interior_gap.max(gap.abs());
                if gap.abs() > CERTIFICATE_TOLERANCE {
                    violations.push(format!(
                        "{name}: marginal ROI {marginal:.4} differs from {lambda:.4}"
                    ));
                }
            }
            Position::Upper if gap < -CERTIFICATE_TOLERANCE => violations.push(format!(
                "{name}: at its upper bound with marginal ROI {marginal:.4} below {lambda:.4}"
            )),
            Position::Lower if gap > CERTIFICATE_TOLERANCE => violations.push(format!(
                "{name}: at its lower bound with marginal ROI {marginal:.4} above {lambda:.4}"
            )),
            Position::Upper | Position::Lower => {}
        }
        positions.push(position);
    }
    let certificate = Certificate {
        lambda,
        max_interior_gap,
        tolerance: CERTIFICATE_TOLERANCE,
        holds: violations.is_empty(),
        violations,
    };
    (certificate, positions)
}

/// Horizon KPI of an allocation (per period spend) in each posterior draw.
pub(crate) fn kpi_per_draw(model: &ResponseModel, allocation: &[f64], horizon: f64) -> Vec<f64> {
    (0..model.draw_count())
        .map(|draw| horizon * model.total(draw, allocation))
        .collect()
}

fn check_request(model: &ResponseModel, request: &PlanRequest) -> Result<(), PlanError> {
    if model.draw_count() == 0 {
        return Err(PlanError::NoDraws);
    }
    if !(1..=520).contains(&request.horizon_periods) {
        return Err(PlanError::Horizon);
    }
    if !(1_000..=MAX_SCENARIOS).contains(&request.scenarios) {
        return Err(PlanError::Scenarios);
    }
    match request.goal {
        Goal::Budget(budget) if !(budget.is_finite() && budget > 0.0) => Err(PlanError::Budget),
        Goal::TargetMarginalRoi(target) if !(target.is_finite() && target > 0.0) => {
            Err(PlanError::Target)
        }
        _ => Ok(()),
    }
}

/// Finds the budget split that maximises the posterior expected KPI; see the module docs.
pub fn optimise(model: &ResponseModel, request: &PlanRequest) -> Result<BudgetPlan, PlanError> {
    check_request(model, request)?;
    let started = std::time::Instant::now();
    let limits = resolve_limits(model, request)?;
    let horizon = f64::from(request.horizon_periods);
    let tables = Table::for_channels(model, &limits);
    let (allocation, lambda, scenarios_evaluated) = match request.goal {
        Goal::Budget(budget) => {
            let total = budget / horizon;
            let minimum: f64 = limits.lower.iter().sum();
            let maximum: f64 = limits.upper.iter().sum();
            if total < minimum * (1.0 - 1e-9) || total > maximum * (1.0 + 1e-9) {
                return Err(PlanError::Infeasible {
                    budget,
                    minimum: minimum * horizon,
                    maximum: maximum * horizon,
                });
            }
            search(model, &tables, &limits, total, request)
        }
        Goal::TargetMarginalRoi(target) => {
            // Separable: each channel maximises its response minus `target` times its spend,
            // scored at every tabulated point.
            let allocation: Vec<f64> = tables
                .iter()
                .map(|table| {
                    (0..TABLE_POINTS)
                        .map(|point| table.lower + table.step * point as f64)
                        .max_by(|a, b| {
                            (table.value(*a) - target * a)
                                .total_cmp(&(table.value(*b) - target * b))
                        })
                        .unwrap_or(table.lower)
                })
                .collect();
            let refined: Vec<f64> = tables
                .iter()
                .zip(&allocation)
                .zip(&limits.lower)
                .map(|((table, coarse), lower)| {
                    if *coarse > lower + table.step {
                        table.spend_at_marginal(target)
                    } else {
                        *lower
                    }
                })
                .collect();
            let scenarios = (TABLE_POINTS * tables.len()) as u64;
            (refined, target, scenarios)
        }
    };
    let (certificate, positions) = certify(model, &limits, &allocation, lambda);
    let total: f64 = allocation.iter().sum();
    let mut current: Vec<f64> = model.mean_spend.clone();
    fit_to_total(&mut current, &limits, total);
    let recommended_kpi = kpi_per_draw(model, &allocation, horizon);
    let current_kpi = kpi_per_draw(model, &current, horizon);
    let uplift: Vec<f64> = recommended_kpi
        .iter()
        .zip(&current_kpi)
        .map(|(recommended, current)| recommended - current)
        .collect();
    let probability_better =
        uplift.iter().filter(|gain| **gain > 0.0).count() as f64 / uplift.len() as f64;
    let channels = model
        .channels
        .iter()
        .enumerate()
        .map(|(channel, name)| ChannelPlan {
            channel: name.clone(),
            current: model.mean_spend[channel] * horizon,
            recommended: allocation[channel] * horizon,
            minimum: limits.lower[channel] * horizon,
            maximum: limits.upper[channel] * horizon,
            position: positions[channel],
            expected_kpi: Interval::of(
                (0..model.draw_count())
                    .map(|draw| horizon * model.response(draw, channel, allocation[channel]))
                    .collect(),
            ),
            marginal_roi: model.expected_marginal(channel, allocation[channel]),
        })
        .collect();
    Ok(BudgetPlan {
        horizon_periods: request.horizon_periods,
        goal: request.goal,
        total_budget: total * horizon,
        channels,
        expected_kpi: Interval::of(recommended_kpi),
        current_expected_kpi: Interval::of(current_kpi),
        uplift: Interval::of(uplift),
        probability_better,
        scenarios_evaluated,
        search_seconds: started.elapsed().as_secs_f64(),
        certificate,
    })
}

/// The annealing search and the refinement for a fixed total per period.
fn search(
    model: &ResponseModel,
    tables: &[Table],
    limits: &Limits,
    total: f64,
    request: &PlanRequest,
) -> (Vec<f64>, f64, u64) {
    let channels = tables.len();
    let steps = request.scenarios / RESTARTS;
    // Each run draws from its own stream of the seed, so the result does not depend on how
    // the runs are spread over the cores.
    let run = |restart: u64| {
        let mut proposals = ChaCha8Rng::seed_from_u64(request.seed);
        proposals.set_stream(restart);
        let mut start: Vec<f64> = match restart {
            0 => model.mean_spend.clone(),
            1 => vec![total / channels as f64; channels],
            _ => (0..channels)
                .map(|_| -(1.0 - proposals.random::<f64>()).ln())
                .collect(),
        };
        fit_to_total(&mut start, limits, total);
        anneal(tables, limits, start, steps, &mut proposals)
    };
    let workers = std::thread::available_parallelism().map_or(1, |cores| cores.get()) as u64;
    let runs: Vec<(Vec<f64>, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.clamp(1, RESTARTS))
            .map(|worker| {
                let run = &run;
                scope.spawn(move || {
                    (worker..RESTARTS)
                        .step_by(workers as usize)
                        .map(|restart| (restart, run(restart)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut runs: Vec<(u64, (Vec<f64>, f64))> = handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("an annealing run does not panic"))
            .collect();
        runs.sort_by_key(|(restart, _)| *restart);
        runs.into_iter().map(|(_, run)| run).collect()
    });
    // The first of the best, in restart order.
    let best = runs
        .into_iter()
        .reduce(|best, run| if run.1 > best.1 { run } else { best });
    let (searched, searched_score) = best.unwrap_or_else(|| (model.mean_spend.clone(), 0.0));
    let (refined, lambda) = equalise_marginal_roi(tables, limits, &searched, total);
    let exact = |split: &[f64]| crate::data::mean(&kpi_per_draw(model, split, 1.0));
    let chosen = if exact(&refined) >= exact(&searched) - 1e-9 * searched_score.abs() {
        refined
    } else {
        searched
    };
    (chosen, lambda, steps * RESTARTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::Hill;
    use crate::response::ChannelCurve;

    /// Three channels with different curves and a model with two draws.
    fn model() -> ResponseModel {
        let curve = |coefficient: f64, half_saturation: f64, shape: f64| ChannelCurve {
            coefficient,
            saturation: Hill {
                half_saturation,
                shape,
            },
        };
        ResponseModel {
            channels: vec!["search".into(), "social".into(), "tv".into()],
            mean_spend: vec![1000.0, 1000.0, 1000.0],
            draws: vec![
                vec![
                    curve(4000.0, 0.8, 1.2),
                    curve(2500.0, 1.5, 1.5),
                    curve(6000.0, 2.0, 2.2),
                ],
                vec![
                    curve(4400.0, 0.9, 1.1),
                    curve(2300.0, 1.4, 1.6),
                    curve(5600.0, 2.2, 2.0),
                ],
            ],
        }
    }

    fn request(goal: Goal) -> PlanRequest {
        PlanRequest {
            horizon_periods: 13,
            goal,
            default_bound: Bound::Relative { min: 0.2, max: 3.0 },
            bounds: BTreeMap::new(),
            scenarios: 2_000_000,
            seed: 1,
        }
    }

    #[test]
    fn the_optimum_satisfies_the_certificate_and_moves_away_from_the_start() {
        let model = model();
        let plan = optimise(&model, &request(Goal::Budget(39_000.0))).expect("plan");
        assert!(plan.certificate.holds, "{:?}", plan.certificate);
        assert_eq!(plan.scenarios_evaluated, 2_000_000 / RESTARTS * RESTARTS);
        let recommended: f64 = plan
            .channels
            .iter()
            .map(|channel| channel.recommended)
            .sum();
        assert!((recommended - 39_000.0).abs() < 1e-6 * 39_000.0);
        let moved = plan
            .channels
            .iter()
            .map(|channel| (channel.recommended - channel.current).abs())
            .fold(0.0, f64::max);
        assert!(moved > 0.1 * 13_000.0, "{plan:#?}");
        assert!(plan.expected_kpi.mean > plan.current_expected_kpi.mean);
        // Interior channels share one marginal ROI; bound channels are on the right side.
        for channel in &plan.channels {
            let gap = (channel.marginal_roi - plan.certificate.lambda) / plan.certificate.lambda;
            match channel.position {
                Position::Interior => assert!(gap.abs() <= CERTIFICATE_TOLERANCE),
                Position::Upper => assert!(gap >= -CERTIFICATE_TOLERANCE),
                Position::Lower => assert!(gap <= CERTIFICATE_TOLERANCE),
            }
        }
    }

    /// No split on a fine grid of the three channels beats the optimiser's.
    #[test]
    fn no_grid_split_beats_the_plan() {
        let model = model();
        let plan = optimise(&model, &request(Goal::Budget(39_000.0))).expect("plan");
        let per_period: Vec<f64> = plan
            .channels
            .iter()
            .map(|channel| channel.recommended / 13.0)
            .collect();
        let value = |split: &[f64]| crate::data::mean(&kpi_per_draw(&model, split, 13.0));
        let best = value(&per_period);
        let total = 3000.0;
        for first in 0..=120 {
            for second in 0..=120 {
                let search = 200.0 + 2600.0 * first as f64 / 120.0;
                let social = 200.0 + 2600.0 * second as f64 / 120.0;
                let tv = total - search - social;
                if !(200.0..=3000.0).contains(&tv) {
                    continue;
                }
                assert!(value(&[search, social, tv]) <= best * (1.0 + 1e-6));
            }
        }
    }

    #[test]
    fn flexible_mode_stops_where_the_marginal_roi_reaches_the_target() {
        let model = model();
        let plan = optimise(&model, &request(Goal::TargetMarginalRoi(1.5))).expect("plan");
        assert!(plan.certificate.holds, "{:?}", plan.certificate);
        for channel in &plan.channels {
            if channel.position == Position::Interior {
                assert!((channel.marginal_roi - 1.5).abs() < 0.015, "{channel:?}");
            }
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let model = model();
        let mut bad = request(Goal::Budget(1e9));
        assert!(matches!(
            optimise(&model, &bad),
            Err(PlanError::Infeasible { .. })
        ));
        bad.goal = Goal::Budget(-1.0);
        assert_eq!(optimise(&model, &bad), Err(PlanError::Budget));
        bad.goal = Goal::Budget(1000.0);
        bad.bounds
            .insert("fax".into(), Bound::Absolute { min: 0.0, max: 1.0 });
        assert_eq!(
            optimise(&model, &bad),
            Err(PlanError::UnknownChannel("fax".into()))
        );
    }
}
