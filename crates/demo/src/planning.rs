//! A media-planning data set with a known truth: the demo's daily spend on twenty channels, a
//! daily revenue KPI drawn around the media-mix truth, and three control variables (a price
//! index, promotion days and holidays) whose effects on revenue are known too. Media-mix models
//! are checked and benchmarked on it.

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

use crate::DemoOptions;
use crate::media_mix::{MediaMixTruth, SpendRow, simulate};

/// Independent of the event stream and of the spend drawn from the same seed.
const PLANNING_STREAM: u64 = 2;
/// Standard deviation of the daily revenue noise, as a share of the expected revenue.
pub const DAILY_NOISE_SHARE: f64 = 0.08;

/// One day's value of a control variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlRow {
    pub date: NaiveDate,
    pub control: String,
    pub value: f64,
}

/// Revenue per day added by one unit of a control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlTruth {
    pub control: String,
    pub effect_per_unit: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanningData {
    pub spend: Vec<SpendRow>,
    /// Realised revenue per day: expected media-mix revenue plus control effects plus noise.
    pub revenue: Vec<(NaiveDate, f64)>,
    pub controls: Vec<ControlRow>,
    pub truth: MediaMixTruth,
    pub control_truth: Vec<ControlTruth>,
}

fn is_holiday(date: NaiveDate) -> bool {
    matches!((date.month(), date.day()), (12, 20..=31) | (1, 1) | (5, 1))
}

pub fn generate_planning_data(options: &DemoOptions) -> PlanningData {
    let media_mix = simulate(options);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(PLANNING_STREAM);
    let price_step = Normal::new(0.0, 0.004).expect("constant standard deviation is valid");
    let control_truth = vec![
        // Revenue per day for a price index one unit above its normal level of 1.
        ControlTruth {
            control: "price_index".into(),
            effect_per_unit: -40_000.0,
        },
        ControlTruth {
            control: "promotion".into(),
            effect_per_unit: 6_000.0,
        },
        ControlTruth {
            control: "holiday".into(),
            effect_per_unit: 4_000.0,
        },
    ];
    let mut price_index: f64 = 1.0;
    let mut revenue = Vec::with_capacity(media_mix.truth.daily_revenue.len());
    let mut controls = Vec::with_capacity(3 * media_mix.truth.daily_revenue.len());
    for (date, expected) in &media_mix.truth.daily_revenue {
        price_index =
            (1.0 + 0.97 * (price_index - 1.0) + price_step.sample(&mut rng)).clamp(0.85, 1.15);
        let promotion = if rng.random::<f64>() < 0.06 { 1.0 } else { 0.0 };
        let holiday = if is_holiday(*date) { 1.0 } else { 0.0 };
        let values = [price_index - 1.0, promotion, holiday];
        let control_effect: f64 = values
            .iter()
            .zip(&control_truth)
            .map(|(value, truth)| value * truth.effect_per_unit)
            .sum();
        let mean = expected + control_effect;
        let noise = Normal::new(0.0, DAILY_NOISE_SHARE * mean.abs())
            .expect("a finite standard deviation is valid");
        revenue.push((*date, (mean + noise.sample(&mut rng)).max(0.0)));
        for (truth, value) in control_truth.iter().zip([price_index, promotion, holiday]) {
            controls.push(ControlRow {
                date: *date,
                control: truth.control.clone(),
                value,
            });
        }
    }
    PlanningData {
        spend: media_mix.spend_rows(),
        revenue,
        controls,
        truth: media_mix.truth,
        control_truth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_follows_the_truth_with_the_control_effects_and_bounded_noise() {
        let mut options = DemoOptions::new(
            10_000,
            7,
            NaiveDate::from_ymd_opt(2025, 6, 30).expect("date"),
        );
        options.days = 730;
        let data = generate_planning_data(&options);
        assert_eq!(data.revenue.len(), 730);
        assert_eq!(data.controls.len(), 3 * 730);
        let mut squared_share = 0.0;
        for (day, ((date, realised), (truth_date, expected))) in data
            .revenue
            .iter()
            .zip(&data.truth.daily_revenue)
            .enumerate()
        {
            assert_eq!(date, truth_date);
            let controls = &data.controls[3 * day..3 * day + 3];
            let effect = (controls[0].value - 1.0) * -40_000.0
                + controls[1].value * 6_000.0
                + controls[2].value * 4_000.0;
            squared_share += ((realised - expected - effect) / (expected + effect)).powi(2);
        }
        let noise_share = (squared_share / 730.0).sqrt();
        assert!((0.06..0.10).contains(&noise_share), "{noise_share}");
        let holidays = data
            .controls
            .iter()
            .filter(|row| row.control == "holiday" && row.value == 1.0)
            .count();
        assert_eq!(holidays, 2 * 14);
        assert_eq!(generate_planning_data(&options), data);
    }
}
