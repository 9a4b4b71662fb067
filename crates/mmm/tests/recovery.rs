//! Fits the model on the demo's planning data, whose truth is known, and checks that the truth is
//! recovered: the true ROIs inside the credible intervals, and a budget plan that earns nearly
//! what the true optimum earns under the true model. Daily data, as the demo records it; the
//! model's adstock then works on the same days as the truth's.

use chrono::NaiveDate;
use silta_demo::{DemoOptions, PlanningData, generate_planning_data};
use silta_mmm::{
    Bound, BudgetPlan, ChannelCurve, Goal, Granularity, Hill, MediaData, ModelSpec, Observation,
    PlanRequest, ResponseModel, SamplerSettings, fit, optimise,
};

/// A quarter, in days.
const HORIZON: u32 = 91;

fn planning_data(weeks: u32, seed: u64) -> PlanningData {
    let mut options = DemoOptions::new(
        1_000,
        seed,
        NaiveDate::from_ymd_opt(2025, 6, 29).expect("a Sunday"),
    );
    options.days = weeks * 7;
    generate_planning_data(&options)
}

fn media_data(planning: &PlanningData, granularity: Granularity) -> MediaData {
    let spend: Vec<Observation> = planning
        .spend
        .iter()
        .map(|row| Observation::new(row.date, row.channel.clone(), row.spend))
        .collect();
    let kpi: Vec<Observation> = planning
        .revenue
        .iter()
        .map(|(date, revenue)| Observation::new(*date, "", *revenue))
        .collect();
    let controls: Vec<Observation> = planning
        .controls
        .iter()
        .map(|row| Observation::new(row.date, row.control.clone(), row.value))
        .collect();
    MediaData::from_observations(granularity, &spend, &kpi, &controls)
        .expect("the demo data is valid")
        .data
}

/// True ROI of each named channel over the days before `until`, recomputed from the published
/// truth.
fn true_roi(planning: &PlanningData, channels: &[String], until: NaiveDate) -> Vec<f64> {
    channels
        .iter()
        .map(|name| {
            let channel = planning
                .truth
                .channels
                .iter()
                .find(|channel| &channel.channel == name)
                .expect("every fitted channel has a truth");
            let mut adstock = 0.0;
            let mut effect = 0.0;
            let mut spend = 0.0;
            for row in planning
                .spend
                .iter()
                .filter(|row| row.channel == channel.channel)
            {
                adstock = row.spend + channel.adstock_decay * adstock;
                if row.date >= until {
                    continue;
                }
                let powered = adstock.powf(channel.hill_shape);
                effect += channel.beta * powered
                    / (powered + channel.hill_half_saturation.powf(channel.hill_shape));
                spend += row.spend;
            }
            effect / spend
        })
        .collect()
}

/// The true model as a response model with one draw: steady daily spend `x` has the steady
/// adstock `x / (1 - decay)`, so the half saturation relative to the mean spend is
/// `half_saturation * (1 - decay) / mean`.
fn true_response(
    planning: &PlanningData,
    mean_spend: &[f64],
    channels: &[String],
) -> ResponseModel {
    let curves = channels
        .iter()
        .zip(mean_spend)
        .map(|(name, mean)| {
            let truth = planning
                .truth
                .channels
                .iter()
                .find(|channel| &channel.channel == name)
                .expect("every fitted channel has a truth");
            ChannelCurve {
                coefficient: truth.beta,
                saturation: Hill {
                    half_saturation: truth.hill_half_saturation * (1.0 - truth.adstock_decay)
                        / mean,
                    shape: truth.hill_shape,
                },
            }
        })
        .collect();
    ResponseModel {
        channels: channels.to_vec(),
        mean_spend: mean_spend.to_vec(),
        draws: vec![curves],
    }
}

#[test]
fn the_truth_is_recovered_and_the_plan_earns_nearly_the_true_optimum() {
    let planning = planning_data(156, 42);
    let data = media_data(&planning, Granularity::Day);
    let spec = ModelSpec {
        holdout_periods: 56,
        ..ModelSpec::default()
    };
    let settings = SamplerSettings {
        tune: 500,
        draws: 500,
        ..SamplerSettings::default()
    };
    let result = fit(&data, &spec, &settings).expect("fit");
    let fitted_until = data.periods[data.len() - spec.holdout_periods];
    let truth = true_roi(&planning, &result.response.channels, fitted_until);
    let mut inside = 0;
    for (channel, true_value) in result.report.channels.iter().zip(&truth) {
        eprintln!(
            "{:22} true ROI {:5.2}, fitted {:5.2} [{:5.2}, {:5.2}]",
            channel.channel, true_value, channel.roi.mean, channel.roi.lower, channel.roi.upper,
        );
        inside += usize::from(channel.roi.contains(*true_value));
    }
    eprintln!("{:?}\n{:?}", result.report.convergence, result.report.fit);
    assert!(
        inside * 10 >= truth.len() * 8,
        "{inside} of {}",
        truth.len()
    );
    assert!(result.report.fit.r_squared > 0.5, "{:?}", result.report.fit);

    // The plan from the fitted model, scored under the true model, against the true optimum.
    let response = &result.response;
    let truth_model = true_response(&planning, &response.mean_spend, &response.channels);
    let horizon = f64::from(HORIZON);
    let request = PlanRequest {
        horizon_periods: HORIZON,
        goal: Goal::Budget(horizon * response.mean_spend.iter().sum::<f64>()),
        default_bound: Bound::default(),
        bounds: Default::default(),
        scenarios: 5_000_000,
        seed: 7,
    };
    let fitted_plan = optimise(response, &request).expect("plan on the fitted model");
    let true_plan = optimise(&truth_model, &request).expect("plan on the true model");
    assert!(
        fitted_plan.certificate.holds,
        "{:?}",
        fitted_plan.certificate
    );
    assert!(true_plan.certificate.holds, "{:?}", true_plan.certificate);
    let earned_by = |daily_spend: &mut dyn Iterator<Item = f64>| {
        daily_spend
            .enumerate()
            .map(|(channel, spend)| horizon * truth_model.response(0, channel, spend))
            .sum::<f64>()
    };
    let earned = |plan: &BudgetPlan| {
        earned_by(
            &mut plan
                .channels
                .iter()
                .map(|channel| channel.recommended / horizon),
        )
    };
    let current = earned_by(&mut response.mean_spend.iter().copied());
    eprintln!(
        "revenue from media under the truth: fitted plan {:.0}, true optimum {:.0}, current split {:.0}",
        earned(&fitted_plan),
        earned(&true_plan),
        current,
    );
    assert!(earned(&fitted_plan) >= 0.95 * earned(&true_plan));
    assert!(earned(&fitted_plan) > current);
}

#[test]
fn a_fit_is_reproducible_bit_for_bit_for_a_seed() {
    let data = media_data(&planning_data(104, 7), Granularity::Week);
    let settings = SamplerSettings {
        chains: 2,
        tune: 100,
        draws: 100,
        ..SamplerSettings::default()
    };
    let spec = ModelSpec::default();
    let first = fit(&data, &spec, &settings).expect("fit");
    let second = fit(&data, &spec, &settings).expect("fit");
    assert_eq!(
        serde_json::to_string(&first).expect("json"),
        serde_json::to_string(&second).expect("json")
    );
    let other_seed = SamplerSettings {
        seed: settings.seed + 1,
        ..settings
    };
    let third = fit(&data, &spec, &other_seed).expect("fit");
    assert_ne!(first.response.draws, third.response.draws);
}
