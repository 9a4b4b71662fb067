//! Weibull adstock: weekly data drawn from channels whose carry-over follows known Weibull
//! curves (computed here independently of the model), fitted with the Weibull option, for
//! several draws of the data. The true ROIs and carry-over half-lives lie in the 90 % credible
//! intervals at least 80 % of the time, and the sampler converges.

use chrono::{Duration, NaiveDate};
use silta_mmm::{Adstock, Granularity, MediaData, ModelSpec, SamplerSettings, Series, fit};

const WEEKS: usize = 156;
const MAX_LAG: usize = 8;

struct Truth {
    name: &'static str,
    mean_spend: f64,
    weibull_shape: f64,
    weibull_scale: f64,
    /// Relative to the mean spend.
    half_saturation: f64,
    hill_shape: f64,
    /// KPI per week at full saturation.
    beta: f64,
}

const TRUTH: [Truth; 3] = [
    Truth {
        name: "tv",
        mean_spend: 100.0,
        weibull_shape: 2.0,
        weibull_scale: 3.0,
        half_saturation: 1.0,
        hill_shape: 1.5,
        beta: 600.0,
    },
    Truth {
        name: "search",
        mean_spend: 200.0,
        weibull_shape: 0.8,
        weibull_scale: 0.6,
        half_saturation: 0.8,
        hill_shape: 1.2,
        beta: 800.0,
    },
    Truth {
        name: "social",
        mean_spend: 50.0,
        weibull_shape: 1.2,
        weibull_scale: 1.5,
        half_saturation: 1.2,
        hill_shape: 1.0,
        beta: 300.0,
    },
];

/// splitmix64: reproducible uniforms in [0, 1) without a dependency.
struct Uniforms(u64);

impl Uniforms {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Box-Muller.
    fn normal(&mut self) -> f64 {
        let u = self.next().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.next()).cos()
    }
}

/// Normalised Weibull survival weights over the lags.
fn weights(truth: &Truth) -> Vec<f64> {
    let raw: Vec<f64> = (0..MAX_LAG)
        .map(|lag| (-(lag as f64 / truth.weibull_scale).powf(truth.weibull_shape)).exp())
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|weight| weight / total).collect()
}

/// The channel's effect per week.
fn effects(truth: &Truth, spend: &[f64]) -> Vec<f64> {
    let weights = weights(truth);
    (0..spend.len())
        .map(|week| {
            let adstock: f64 = (0..=week.min(MAX_LAG - 1))
                .map(|lag| weights[lag] * spend[week - lag])
                .sum::<f64>()
                / truth.mean_spend;
            let powered = adstock.powf(truth.hill_shape);
            truth.beta * powered / (powered + truth.half_saturation.powf(truth.hill_shape))
        })
        .collect()
}

/// Fits one draw of the data; returns how many true ROIs and half-lives the intervals hold.
fn recovered(seed: u64) -> (usize, usize) {
    let mut uniforms = Uniforms(seed);
    let spend: Vec<Vec<f64>> = TRUTH
        .iter()
        .map(|truth| {
            (0..WEEKS)
                .map(|_| {
                    // Flights: a quarter of the weeks dark, the rest between 0.3x and 1.9x.
                    if uniforms.next() < 0.25 {
                        0.0
                    } else {
                        truth.mean_spend * (0.3 + 1.6 * uniforms.next())
                    }
                })
                .collect()
        })
        .collect();
    let channel_effects: Vec<Vec<f64>> = TRUTH
        .iter()
        .zip(&spend)
        .map(|(truth, spend)| effects(truth, spend))
        .collect();
    let kpi: Vec<f64> = (0..WEEKS)
        .map(|week| {
            let media: f64 = channel_effects.iter().map(|effects| effects[week]).sum();
            (2000.0 + 3.0 * week as f64 + media) * (1.0 + 0.02 * uniforms.normal())
        })
        .collect();
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).expect("a Monday");
    let data = MediaData {
        granularity: Granularity::Week,
        periods: (0..WEEKS)
            .map(|week| start + Duration::weeks(week as i64))
            .collect(),
        channels: TRUTH
            .iter()
            .zip(&spend)
            .map(|(truth, spend)| Series {
                name: truth.name.into(),
                values: spend.clone(),
            })
            .collect(),
        kpi,
        controls: Vec::new(),
    };
    let spec = ModelSpec {
        adstock: Adstock::Weibull { max_lag: MAX_LAG },
        ..ModelSpec::default()
    };
    let settings = SamplerSettings {
        tune: 500,
        draws: 500,
        ..SamplerSettings::default()
    };
    let result = fit(&data, &spec, &settings).expect("fit");
    eprintln!("data seed {seed}: {:?}", result.report.convergence);
    assert!(
        result.report.convergence.max_r_hat < 1.05,
        "{:?}",
        result.report.convergence
    );
    let (mut rois, mut half_lives) = (0, 0);
    for truth in &TRUTH {
        let report = result
            .report
            .channels
            .iter()
            .find(|channel| channel.channel == truth.name)
            .expect("every channel is reported");
        let index = TRUTH
            .iter()
            .position(|candidate| candidate.name == truth.name)
            .expect("known");
        let true_roi =
            channel_effects[index].iter().sum::<f64>() / spend[index].iter().sum::<f64>();
        let true_half_life = truth.weibull_scale * 2f64.ln().powf(1.0 / truth.weibull_shape);
        let shape = report
            .weibull_shape
            .as_ref()
            .expect("Weibull shape reported");
        eprintln!(
            "{:7} ROI true {true_roi:.2}, fitted {:.2} [{:.2}, {:.2}]; half-life true {true_half_life:.2}, fitted {:.2} [{:.2}, {:.2}]; Weibull shape {:.2}",
            truth.name,
            report.roi.mean,
            report.roi.lower,
            report.roi.upper,
            report.half_life.mean,
            report.half_life.lower,
            report.half_life.upper,
            shape.mean,
        );
        rois += usize::from(report.roi.contains(true_roi));
        half_lives += usize::from(report.half_life.contains(true_half_life));
    }
    (rois, half_lives)
}

#[test]
fn weibull_carry_over_is_fitted_and_the_truth_recovered() {
    let seeds = 11..15;
    let (rois, half_lives) = seeds
        .clone()
        .map(recovered)
        .fold((0, 0), |sum, (rois, half_lives)| {
            (sum.0 + rois, sum.1 + half_lives)
        });
    let estimates = seeds.count() * TRUTH.len();
    eprintln!("in the 90 % intervals: {rois} of {estimates} ROIs, {half_lives} half-lives");
    assert!(rois * 10 >= estimates * 8, "{rois} of {estimates}");
    assert!(
        half_lives * 10 >= estimates * 8,
        "{half_lives} of {estimates}"
    );
}
