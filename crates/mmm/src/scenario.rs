//! Scenario comparison: plans written the way planners say them ("+20 % tv, -10 %
//! google_search, radio = 40000"), each evaluated in every posterior draw against the current
//! split and against the optimum for the same total.

use serde::{Deserialize, Serialize};

use crate::fit::Interval;
use crate::optimise::{Bound, Goal, PlanError, PlanRequest, kpi_per_draw, optimise};
use crate::response::ResponseModel;

pub const MAX_SCENARIO_PLANS: usize = 20;
const MAX_PLAN_TEXT: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    pub horizon_periods: u32,
    /// Each plan is a list of changes to the current split.
    pub plans: Vec<String>,
    /// Bounds for the optimum each plan is compared with.
    #[serde(default)]
    pub default_bound: Bound,
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    #[error("plan {plan}: {message}")]
    Plan { plan: usize, message: String },
    #[error("between 1 and {MAX_SCENARIO_PLANS} plans, please")]
    PlanCount,
    #[error(transparent)]
    Optimiser(#[from] PlanError),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub plan: String,
    /// Spend per channel over the horizon.
    pub spend: Vec<(String, f64)>,
    pub total_budget: f64,
    pub expected_kpi: Interval,
    /// This plan minus the current split, per posterior draw.
    pub versus_current: Interval,
    pub probability_better_than_current: f64,
    /// The optimum for the same total minus this plan, per posterior draw.
    pub shortfall_to_optimum: Interval,
    pub optimum_expected_kpi: Interval,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioComparison {
    pub horizon_periods: u32,
    pub current_total_budget: f64,
    pub current_expected_kpi: Interval,
    pub scenarios: Vec<ScenarioResult>,
}

/// Applies one plan's changes to the current spend per period.
fn apply(model: &ResponseModel, plan: &str, horizon: f64) -> Result<Vec<f64>, String> {
    if plan.len() > MAX_PLAN_TEXT {
        return Err(format!("longer than {MAX_PLAN_TEXT} characters"));
    }
    let mut spend = model.mean_spend.clone();
    for item in plan
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let channel_index = |name: &str| {
            model
                .channels
                .iter()
                .position(|channel| channel == name)
                .ok_or_else(|| format!("\"{name}\" is not a channel of this model"))
        };
        if let Some((name, amount)) = item.split_once('=') {
            let channel = channel_index(name.trim())?;
            let amount: f64 = amount
                .trim()
                .parse()
                .map_err(|_| format!("\"{item}\": expected an amount after '='"))?;
            if !(amount.is_finite() && amount >= 0.0) {
                return Err(format!("\"{item}\": the amount must be non-negative"));
            }
            spend[channel] = amount / horizon;
            continue;
        }
        let words: Vec<&str> = item.split_whitespace().collect();
        let (change, name) = match words.as_slice() {
            [change, name] if change.ends_with('%') => (*change, *name),
            [name, change] if change.ends_with('%') => (*change, *name),
            [change, "%", name] => (*change, *name),
            [name, change, "%"] => (*change, *name),
            _ => {
                return Err(format!(
                    "\"{item}\": write \"+20% channel\", \"channel -10%\" or \"channel = amount\""
                ));
            }
        };
        let channel = channel_index(name)?;
        let percent: f64 = change
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("\"{item}\": \"{change}\" is not a percentage"))?;
        if !(percent.is_finite() && percent >= -100.0) {
            return Err(format!("\"{item}\": a change cannot go below -100 %"));
        }
        spend[channel] *= 1.0 + percent / 100.0;
    }
    Ok(spend)
}

pub fn compare(
    model: &ResponseModel,
    request: &ScenarioRequest,
) -> Result<ScenarioComparison, ScenarioError> {
    if request.plans.is_empty() || request.plans.len() > MAX_SCENARIO_PLANS {
        return Err(ScenarioError::PlanCount);
    }
    let horizon = f64::from(request.horizon_periods);
    let current_kpi = kpi_per_draw(model, &model.mean_spend, horizon);
    let mut scenarios = Vec::with_capacity(request.plans.len());
    for (index, plan) in request.plans.iter().enumerate() {
        let spend = apply(model, plan, horizon).map_err(|message| ScenarioError::Plan {
            plan: index + 1,
            message,
        })?;
        let total: f64 = spend.iter().sum();
        let plan_kpi = kpi_per_draw(model, &spend, horizon);
        let optimum = optimise(
            model,
            &PlanRequest {
                horizon_periods: request.horizon_periods,
                goal: Goal::Budget(total * horizon),
                default_bound: request.default_bound,
                bounds: Default::default(),
                scenarios: 1_000_000,
                seed: request.seed,
            },
        )?;
        let optimum_spend: Vec<f64> = optimum
            .channels
            .iter()
            .map(|channel| channel.recommended / horizon)
            .collect();
        let optimum_kpi = kpi_per_draw(model, &optimum_spend, horizon);
        let difference = |first: &[f64], second: &[f64]| -> Vec<f64> {
            first.iter().zip(second).map(|(a, b)| a - b).collect()
        };
        let versus_current = difference(&plan_kpi, &current_kpi);
        scenarios.push(ScenarioResult {
            plan: plan.clone(),
            spend: model
                .channels
                .iter()
                .zip(&spend)
                .map(|(channel, per_period)| (channel.clone(), per_period * horizon))
                .collect(),
            total_budget: total * horizon,
            probability_better_than_current: versus_current
                .iter()
                .filter(|gain| **gain > 0.0)
                .count() as f64
                / versus_current.len() as f64,
            versus_current: Interval::of(versus_current),
            shortfall_to_optimum: Interval::of(difference(&optimum_kpi, &plan_kpi)),
            optimum_expected_kpi: Interval::of(optimum_kpi),
            expected_kpi: Interval::of(plan_kpi),
        });
    }
    Ok(ScenarioComparison {
        horizon_periods: request.horizon_periods,
        current_total_budget: model.mean_spend.iter().sum::<f64>() * horizon,
        current_expected_kpi: Interval::of(current_kpi),
        scenarios,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::Hill;
    use crate::response::ChannelCurve;

    fn model() -> ResponseModel {
        let curve = |coefficient: f64| ChannelCurve {
            coefficient,
            saturation: Hill {
                half_saturation: 1.0,
                shape: 1.3,
            },
        };
        ResponseModel {
            channels: vec!["tv".into(), "google_search".into()],
            mean_spend: vec![100.0, 100.0],
            draws: vec![
                vec![curve(300.0), curve(150.0)],
                vec![curve(280.0), curve(170.0)],
            ],
        }
    }

    #[test]
    fn plans_are_read_in_every_supported_form() {
        let model = model();
        assert_eq!(
            apply(&model, "+20% tv, google_search -10 %", 10.0),
            Ok(vec![120.0, 90.0])
        );
        assert_eq!(apply(&model, "tv = 500; ", 10.0), Ok(vec![50.0, 100.0]));
        assert!(matches!(apply(&model, "+20% fax", 10.0), Err(error) if error.contains("fax")));
        assert!(apply(&model, "more tv", 10.0).is_err());
        assert!(apply(&model, "-120% tv", 10.0).is_err());
    }

    #[test]
    fn moving_money_to_the_stronger_channel_beats_the_current_split() {
        let comparison = compare(
            &model(),
            &ScenarioRequest {
                horizon_periods: 10,
                plans: vec!["+30% tv, -30% google_search".into()],
                default_bound: Bound::Relative { min: 0.0, max: 3.0 },
                seed: 0,
            },
        )
        .expect("comparison");
        let scenario = &comparison.scenarios[0];
        assert_eq!(scenario.total_budget, 2000.0);
        assert!(scenario.versus_current.lower > 0.0);
        assert_eq!(scenario.probability_better_than_current, 1.0);
        assert!(scenario.shortfall_to_optimum.mean >= -1e-6);
    }
}
