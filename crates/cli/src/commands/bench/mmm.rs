//! `silta bench mmm`: a media-mix fit on the demo's planning data (weekly, 19 channels, 3
//! controls) beside PyMC-Marketing fitted on the same numbers in the same run: fit time and
//! ROI error against the known truth; then Silta's budget optimiser over 5 million scenarios.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use serde::Deserialize;
use silta_demo::{DemoOptions, PlanningData, generate_planning_data};
use silta_mmm::{
    Bound, Goal, Granularity, MediaData, ModelSpec, Observation, PlanRequest, SamplerSettings,
};

#[derive(clap::Args)]
pub struct MmmArgs {
    #[arg(long, default_value_t = 156)]
    pub weeks: u32,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 4)]
    pub chains: usize,
    #[arg(long, default_value_t = 1000)]
    pub tune: u64,
    #[arg(long, default_value_t = 1000)]
    pub draws: u64,
    /// The demo has twenty paid channels: this one is left out, with its effect on revenue.
    #[arg(long, default_value = "print")]
    pub leave_out: String,
    /// A Python with `pymc-marketing` and `nutpie`; `$HOME/.cache/pymc-venv/bin/python` by
    /// default.
    #[arg(long)]
    pub python: Option<PathBuf>,
}

const PEER_SCRIPT: &str = include_str!("pymc_marketing_mmm.py");

#[derive(Debug, Deserialize)]
struct PeerAnswer {
    version: String,
    sampler: String,
    fit_seconds: f64,
    roi: std::collections::BTreeMap<String, Option<f64>>,
    roi_lower: std::collections::BTreeMap<String, Option<f64>>,
    roi_upper: std::collections::BTreeMap<String, Option<f64>>,
    divergences: u64,
    max_r_hat: f64,
    min_ess: f64,
}

/// Revenue a channel caused each day, from the published truth.
fn daily_effects(planning: &PlanningData, name: &str) -> anyhow::Result<Vec<f64>> {
    let truth = planning
        .truth
        .channels
        .iter()
        .find(|channel| channel.channel == name)
        .with_context(|| format!("the demo has no channel `{name}`"))?;
    let mut adstock = 0.0;
    Ok(planning
        .spend
        .iter()
        .filter(|row| row.channel == name)
        .map(|row| {
            adstock = row.spend + truth.adstock_decay * adstock;
            let powered = adstock.powf(truth.hill_shape);
            truth.beta * powered / (powered + truth.hill_half_saturation.powf(truth.hill_shape))
        })
        .collect())
}

/// The weekly data both models fit, and each kept channel's true ROI over it.
fn weekly_data(args: &MmmArgs) -> anyhow::Result<(MediaData, Vec<f64>)> {
    let mut options = DemoOptions::new(
        1_000,
        args.seed,
        NaiveDate::from_ymd_opt(2025, 6, 29).expect("a Sunday"),
    );
    options.days = args.weeks * 7;
    let planning = generate_planning_data(&options);
    let left_out = daily_effects(&planning, &args.leave_out)?;
    let spend: Vec<Observation> = planning
        .spend
        .iter()
        .filter(|row| row.channel != args.leave_out)
        .map(|row| Observation::new(row.date, row.channel.clone(), row.spend))
        .collect();
    let kpi: Vec<Observation> = planning
        .revenue
        .iter()
        .zip(&left_out)
        .map(|((date, revenue), effect)| Observation::new(*date, "", revenue - effect))
        .collect();
    let controls: Vec<Observation> = planning
        .controls
        .iter()
        .map(|row| Observation::new(row.date, row.control.clone(), row.value))
        .collect();
    let data = MediaData::from_observations(Granularity::Week, &spend, &kpi, &controls)
        .map_err(|error| anyhow::anyhow!(error))?
        .data;
    let mut true_roi = Vec::new();
    for channel in &data.channels {
        let effect: f64 = daily_effects(&planning, &channel.name)?.iter().sum();
        true_roi.push(effect / channel.values.iter().sum::<f64>());
    }
    Ok((data, true_roi))
}

fn write_csv(data: &MediaData, path: &std::path::Path) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    let mut header = vec!["date".to_string()];
    header.extend(data.channels.iter().map(|channel| channel.name.clone()));
    header.extend(data.controls.iter().map(|control| control.name.clone()));
    header.push("revenue".into());
    writer.write_record(&header)?;
    for (period, date) in data.periods.iter().enumerate() {
        let mut row = vec![date.to_string()];
        for series in data.channels.iter().chain(&data.controls) {
            row.push(series.values[period].to_string());
        }
        row.push(data.kpi[period].to_string());
        writer.write_record(&row)?;
    }
    writer.flush()?;
    Ok(())
}

fn run_peer(args: &MmmArgs, data: &MediaData, csv: &std::path::Path) -> anyhow::Result<PeerAnswer> {
    let python = args.python.clone().unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/pymc-venv/bin/python")
    });
    let names = |series: &[silta_mmm::Series]| {
        series
            .iter()
            .map(|series| series.name.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(PEER_SCRIPT)
        .arg(csv)
        .args(["--channels", &names(&data.channels)])
        .args(["--controls", &names(&data.controls)])
        .args(["--chains", &args.chains.to_string()])
        .args(["--tune", &args.tune.to_string()])
        .args(["--draws", &args.draws.to_string()])
        .args(["--seed", &args.seed.to_string()])
        .args(["--sampler", "nutpie"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| {
            format!(
                "running {} (the peer: pip install pymc-marketing nutpie)",
                python.display()
            )
        })?;
    anyhow::ensure!(output.status.success(), "the PyMC-Marketing peer failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer = stdout.lines().last().context("the peer printed nothing")?;
    Ok(serde_json::from_str(answer)?)
}

/// Mean absolute ROI error, mean relative error and how many true ROIs the 90 % intervals hold.
fn errors(estimates: &[(f64, f64, f64)], truth: &[f64]) -> (f64, f64, usize) {
    let count = truth.len() as f64;
    let absolute = estimates
        .iter()
        .zip(truth)
        .map(|((mean, _, _), truth)| (mean - truth).abs())
        .sum::<f64>()
        / count;
    let relative = estimates
        .iter()
        .zip(truth)
        .map(|((mean, _, _), truth)| (mean - truth).abs() / truth)
        .sum::<f64>()
        / count;
    let covered = estimates
        .iter()
        .zip(truth)
        .filter(|((_, lower, upper), truth)| (*lower..=*upper).contains(*truth))
        .count();
    (absolute, relative, covered)
}

pub async fn run(args: MmmArgs) -> anyhow::Result<()> {
    let (data, true_roi) = weekly_data(&args)?;
    let workdir = tempfile::Builder::new()
        .prefix("silta-bench-mmm-")
        .tempdir()?;
    let csv = workdir.path().join("weekly.csv");
    write_csv(&data, &csv)?;
    println!(
        "silta bench mmm: {} weeks, {} channels, {} controls (demo seed {}), {} chains x ({} tune + {} draws); both fit the same weekly numbers ({}) on this machine's 2 cores",
        data.len(),
        data.channels.len(),
        data.controls.len(),
        args.seed,
        args.chains,
        args.tune,
        args.draws,
        csv.display()
    );

    let settings = SamplerSettings {
        chains: args.chains,
        tune: args.tune,
        draws: args.draws,
        seed: args.seed,
        ..SamplerSettings::default()
    };
    let started = Instant::now();
    let fitted =
        tokio::task::block_in_place(|| silta_mmm::fit(&data, &ModelSpec::default(), &settings))?;
    let silta_seconds = started.elapsed().as_secs_f64();
    let peer = run_peer(&args, &data, &csv)?;

    let silta_estimates: Vec<(f64, f64, f64)> = fitted
        .report
        .channels
        .iter()
        .map(|channel| (channel.roi.mean, channel.roi.lower, channel.roi.upper))
        .collect();
    let peer_estimates: Vec<(f64, f64, f64)> = data
        .channels
        .iter()
        .map(|channel| {
            let value = |map: &std::collections::BTreeMap<String, Option<f64>>| {
                map.get(&channel.name)
                    .copied()
                    .flatten()
                    .unwrap_or(f64::NAN)
            };
            (
                value(&peer.roi),
                value(&peer.roi_lower),
                value(&peer.roi_upper),
            )
        })
        .collect();
    println!(
        "{:22} {:>8} {:>22} {:>22}",
        "channel", "true ROI", "silta (90 % interval)", "pymc-marketing"
    );
    for (index, channel) in data.channels.iter().enumerate() {
        let (mean, lower, upper) = silta_estimates[index];
        let (peer_mean, peer_lower, peer_upper) = peer_estimates[index];
        println!(
            "{:22} {:>8.2} {:>6.2} [{:>5.2}, {:>5.2}] {:>6.2} [{:>5.2}, {:>5.2}]",
            channel.name, true_roi[index], mean, lower, upper, peer_mean, peer_lower, peer_upper
        );
    }
    let (silta_absolute, silta_relative, silta_covered) = errors(&silta_estimates, &true_roi);
    let (peer_absolute, peer_relative, peer_covered) = errors(&peer_estimates, &true_roi);
    let convergence = &fitted.report.convergence;
    println!(
        "silta          fit {silta_seconds:>7.1} s  ROI mean abs error {silta_absolute:.3}  mean rel error {:.1} %  truth in 90 % interval {silta_covered}/{}  divergences {}  max R-hat {:.3}  min ESS {:.0}",
        100.0 * silta_relative,
        true_roi.len(),
        convergence.divergences,
        convergence.max_r_hat,
        convergence.min_effective_sample_size
    );
    println!(
        "pymc-marketing fit {:>7.1} s  ROI mean abs error {peer_absolute:.3}  mean rel error {:.1} %  truth in 90 % interval {peer_covered}/{}  divergences {}  max R-hat {:.3}  min ESS {:.0}  ({} {}, compile time included)",
        peer.fit_seconds,
        100.0 * peer_relative,
        true_roi.len(),
        peer.divergences,
        peer.max_r_hat,
        peer.min_ess,
        peer.version,
        peer.sampler
    );
    println!(
        "ratio: silta {:.1}x faster; ROI error {:.2}x of pymc-marketing's",
        peer.fit_seconds / silta_seconds,
        silta_absolute / peer_absolute
    );

    let response = &fitted.response;
    let horizon = 13;
    let request = PlanRequest {
        horizon_periods: horizon,
        goal: Goal::Budget(f64::from(horizon) * response.mean_spend.iter().sum::<f64>()),
        default_bound: Bound::default(),
        bounds: Default::default(),
        scenarios: silta_mmm::DEFAULT_SCENARIOS,
        seed: args.seed,
    };
    let plan = tokio::task::block_in_place(|| silta_mmm::optimise(response, &request))?;
    println!(
        "optimiser: {} scenarios over {} channels x {} posterior draws in {:.2} s; certificate holds: {}; expected uplift over the current split {:.1} % (probability better {:.2})",
        plan.scenarios_evaluated,
        response.channels.len(),
        response.draws.len(),
        plan.search_seconds,
        plan.certificate.holds,
        100.0 * plan.uplift.mean / plan.current_expected_kpi.mean,
        plan.probability_better
    );
    Ok(())
}
