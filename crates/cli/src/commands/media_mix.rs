use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use silta_mmm::{Bound, Goal, PlanRequest, ScenarioRequest};
use silta_server::{
    Config, FitRequest, FitStatus, MediaMixModels, ModelRecord, compare_scenarios, plan_budget,
    prepare_fit, run_fit,
};
use silta_state::{Actor, Change};

use crate::client::{self, Target, locally};

#[derive(Subcommand)]
pub enum MediaMixCommand {
    /// Fit a model from a JSON request (as `POST /v1/media-mix/models` takes) and wait for it;
    /// prints the model with its report.
    Fit {
        file: PathBuf,
        /// A `date,value` CSV file to use as the KPI instead of the request's `kpi`.
        #[arg(long)]
        kpi_csv: Option<PathBuf>,
        /// A `date,control,value` CSV file of control variables.
        #[arg(long)]
        controls_csv: Option<PathBuf>,
    },
    /// List models as JSON lines, newest first.
    List,
    /// Print one model with its report.
    Show { id: String },
    /// Delete a model.
    Delete { id: String },
    /// The budget split that maximises the expected KPI over the horizon.
    Optimise {
        id: String,
        #[arg(long)]
        horizon: u32,
        /// Total budget over the horizon.
        #[arg(long, conflicts_with = "target_marginal_roi")]
        budget: Option<f64>,
        /// Spend on each channel while its marginal ROI stays at or above this.
        #[arg(long)]
        target_marginal_roi: Option<f64>,
        /// Each channel between these multiples of its historical pace.
        #[arg(long, default_value_t = 0.5)]
        min: f64,
        #[arg(long, default_value_t = 1.5)]
        max: f64,
        #[arg(long, default_value_t = silta_mmm::DEFAULT_SCENARIOS)]
        scenarios: u64,
    },
    /// Compare written plans ("+20% tv, google_search -10%") with the current split and the
    /// optimum.
    Scenarios {
        id: String,
        #[arg(long)]
        horizon: u32,
        #[arg(required = true)]
        plans: Vec<String>,
    },
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn print(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn model_path(id: &str) -> String {
    format!(
        "/v1/media-mix/models/{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC)
    )
}

pub async fn run(config: Config, command: MediaMixCommand) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    let models = MediaMixModels::open(&config.data);
    match command {
        MediaMixCommand::Fit {
            file,
            kpi_csv,
            controls_csv,
        } => {
            let mut request: FitRequest = serde_json::from_str(&read_text(&file)?)
                .with_context(|| format!("{} is not a media-mix fit request", file.display()))?;
            if let Some(path) = kpi_csv {
                request.kpi = silta_server::KpiSource::Csv {
                    csv: read_text(&path)?,
                };
            }
            if let Some(path) = controls_csv {
                request.controls_csv = Some(read_text(&path)?);
            }
            let model: ModelRecord = match target {
                Target::Server(server) => {
                    let created: ModelRecord =
                        server.post("/v1/media-mix/models", &request).await?;
                    eprintln!("fitting model {} on the server", created.id);
                    loop {
                        let model: ModelRecord = server.get(&model_path(&created.id)).await?;
                        if model.status != FitStatus::Fitting {
                            break model;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                Target::Local(state) => {
                    drop(state);
                    locally(config, async |state| {
                        let (record, data) = prepare_fit(state, &request, &Actor::local()).await?;
                        eprintln!("fitting model {}", record.id);
                        run_fit(Arc::clone(&state.media_mix), record, data).await
                    })
                    .await?
                }
            };
            print(&model)?;
            if model.status == FitStatus::Failed {
                anyhow::bail!("the fit failed: {}", model.error.unwrap_or_default());
            }
        }
        MediaMixCommand::List => {
            let listed: Vec<ModelRecord> = match target {
                Target::Server(server) => server.get("/v1/media-mix/models").await?,
                Target::Local(_) => models
                    .list()
                    .map_err(|error| anyhow::anyhow!(error.message))?,
            };
            for model in listed {
                println!("{}", serde_json::to_string(&model)?);
            }
        }
        MediaMixCommand::Show { id } => {
            let model: ModelRecord = match target {
                Target::Server(server) => server.get(&model_path(&id)).await?,
                Target::Local(_) => models
                    .get(&id)
                    .map_err(|error| anyhow::anyhow!(error.message))?
                    .with_context(|| format!("no media-mix model `{id}`"))?,
            };
            print(&model)?;
        }
        MediaMixCommand::Delete { id } => {
            match target {
                Target::Server(server) => server.delete(&model_path(&id)).await?,
                Target::Local(state) => {
                    if !models
                        .delete(&id)
                        .map_err(|error| anyhow::anyhow!(error.message))?
                    {
                        anyhow::bail!("no media-mix model `{id}`");
                    }
                    state.record(Change {
                        actor: &Actor::local(),
                        action: "media_mix.deleted",
                        target: &id,
                        detail: serde_json::json!({}),
                    })?;
                }
            }
            eprintln!("model {id} deleted");
        }
        MediaMixCommand::Optimise {
            id,
            horizon,
            budget,
            target_marginal_roi,
            min,
            max,
            scenarios,
        } => {
            let goal = match (budget, target_marginal_roi) {
                (Some(budget), None) => Goal::Budget(budget),
                (None, Some(target)) => Goal::TargetMarginalRoi(target),
                _ => anyhow::bail!("give --budget or --target-marginal-roi"),
            };
            let request = PlanRequest {
                horizon_periods: horizon,
                goal,
                default_bound: Bound::Relative { min, max },
                bounds: Default::default(),
                scenarios,
                seed: 0,
            };
            let plan: Value = match target {
                Target::Server(server) => {
                    server
                        .post(&format!("{}/plans", model_path(&id)), &request)
                        .await?
                }
                Target::Local(_) => serde_json::to_value(
                    plan_budget(&models, &id, request)
                        .await
                        .map_err(|error| anyhow::anyhow!(error.message))?,
                )?,
            };
            print(&plan)?;
        }
        MediaMixCommand::Scenarios { id, horizon, plans } => {
            let request = ScenarioRequest {
                horizon_periods: horizon,
                plans,
                default_bound: Bound::default(),
                seed: 0,
            };
            let comparison: Value = match target {
                Target::Server(server) => {
                    server
                        .post(&format!("{}/scenarios", model_path(&id)), &request)
                        .await?
                }
                Target::Local(_) => serde_json::to_value(
                    compare_scenarios(&models, &id, request)
                        .await
                        .map_err(|error| anyhow::anyhow!(error.message))?,
                )?,
            };
            print(&comparison)?;
        }
    }
    Ok(())
}
