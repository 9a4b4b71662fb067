//! Fits the model on the demo's planning data, whose truth is known, and checks that the truth is
//! recovered.

use std::time::Instant;

use chrono::NaiveDate;
use silta_demo::{DemoOptions, PlanningData, generate_planning_data};
use silta_mmm::{
    Bound, ChannelCurve, Goal, Granularity, MediaData, ModelSpec, Observation, PlanRequest,
    ResponseModel, SamplerSettings, fit, optimise,
};

fn planning_data(weeks: u32, seed: u64) -> PlanningData {
    let mut options = DemoOptions::new(
        1_000,
        seed,
        NaiveDate::from_ymd_opt(2025, 6, 29).expect("a Sunday"),
    );
    options.days = weeks * 7;
    generate_planning_data(&options)
}

fn media_data(planning: &PlanningData) -> MediaData {
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
    MediaData::from_observations(Granularity::Week, &spend, &kpi, &controls)
        .expect("the demo data is valid")
        .data
}

/// True ROI of each channel over the days before `until`, recomputed from the published truth.
fn true_roi(planning: &PlanningData, until: NaiveDate) -> Vec<f64> {
    planning
        .truth
        .channels
        .iter()
        .map(|channel| {
            let mut adstock = 0.0;
            let mut effect = 0.0;
            let mut spend = 0.0;
            for row in planning.spend.iter().filter(|row| row.channel == channel.channel) {
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

/// The true model as a response model with one draw: a week of steady spend `X` is seven days
/// of `X / 7`, whose steady daily adstock is `X / 7 / (1 - decay)`.
fn true_response(planning: &PlanningData, mean_spend: &[f64], channels: &[String]) -> ResponseModel {
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
                coefficient: 7.0 * truth.beta,
                decay: truth.adstock_decay,
                half_saturation: 7.0 * truth.hill_half_saturation * (1.0 - truth.adstock_decay)
                    / mean,
                shape: truth.hill_shape,
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
fn true_roi_lies_in_the_credible_interval_for_most_channels() {
    let planning = planning_data(156, 42);
    let data = media_data(&planning);
    let spec = ModelSpec {
        holdout_periods: 8,
        ..ModelSpec::default()
    };
    let settings = SamplerSettings {
        tune: 500,
        draws: 500,
        ..SamplerSettings::default()
    };
    let started = Instant::now();
    let result = fit(&data, &spec, &settings).expect("fit");
    eprintln!("fit took {:?}", started.elapsed());
    let fitted_until = data.periods[data.len() - spec.holdout_periods];
    let truth = true_roi(&planning, fitted_until);
    let mut inside = 0;
    for (channel, true_value) in result.report.channels.iter().zip(&truth) {
        eprintln!(
            "{:22} true {:5.2}  fitted {:5.2} [{:5.2}, {:5.2}] r-hat {:.3} ess {:.0}",
            channel.channel,
            true_value,
            channel.roi.mean,
            channel.roi.lower,
            channel.roi.upper,
            channel.r_hat,
            channel.effective_sample_size
        );
        inside += usize::from(channel.roi.contains(*true_value));
    }
    eprintln!("{:?}", result.report.convergence);
    eprintln!("{:?}", result.report.fit);
    eprintln!("{:?}", result.report.warnings);
    assert!(inside * 10 >= truth.len() * 8, "{inside} of {}", truth.len());

    // The plan from the fitted model, scored under the true model, against the true optimum.
    let response = &result.response;
    let truth_model = true_response(&planning, &response.mean_spend, &response.channels);
    let budget = 13.0 * response.mean_spend.iter().sum::<f64>();
    let request = PlanRequest {
        horizon_periods: 13,
        goal: Goal::Budget(budget),
        default_bound: Bound::Relative { min: 0.2, max: 3.0 },
        bounds: Default::default(),
        scenarios: 5_000_000,
        seed: 7,
    };
    let fitted_plan = optimise(response, &request).expect("plan on the fitted model");
    let true_plan = optimise(&truth_model, &request).expect("plan on the true model");
    assert!(fitted_plan.certificate.holds, "{:?}", fitted_plan.certificate);
    assert!(true_plan.certificate.holds, "{:?}", true_plan.certificate);
    let earned = |plan: &silta_mmm::BudgetPlan| {
        plan.channels
            .iter()
            .enumerate()
            .map(|(channel, spend)| 13.0 * truth_model.response(0, channel, spend.recommended / 13.0))
            .sum::<f64>()
    };
    let current: f64 = (0..response.channels.len())
        .map(|channel| 13.0 * truth_model.response(0, channel, response.mean_spend[channel]))
        .sum();
    eprintln!(
        "true KPI from media: fitted plan {:.0}, true optimum {:.0}, current split {:.0}; {} scenarios in {:.2} s",
        earned(&fitted_plan),
        earned(&true_plan),
        current,
        fitted_plan.scenarios_evaluated,
        fitted_plan.search_seconds
    );
    assert!(earned(&fitted_plan) >= 0.95 * earned(&true_plan));
}
