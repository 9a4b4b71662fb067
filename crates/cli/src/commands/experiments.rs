use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use silta_experiments::Experiment;
use silta_server::{Config, ResultsOptions, Silta, experiment_results};
use silta_state::Actor;

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum ExperimentsCommand {
    /// Create or replace an experiment from a JSON file (as `PUT /v1/experiments/{key}` takes).
    Put { file: PathBuf },
    /// List experiments as JSON lines.
    List,
    /// Stop an experiment now: nobody is assigned any more; results stay.
    Stop { key: String },
    /// Delete an experiment.
    Delete { key: String },
    /// Compute every metric's results from the event store, as JSON.
    Results {
        key: String,
        /// Always-valid confidence sequences (safe to look at every day).
        #[arg(long)]
        sequential: bool,
        /// CUPED: adjust by each metric over the same window before exposure.
        #[arg(long)]
        cuped: bool,
        /// Add the Bayesian answer: chance to win, risk, credible interval.
        #[arg(long)]
        bayesian: bool,
    },
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

pub async fn run(config: Config, command: ExperimentsCommand) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    match command {
        ExperimentsCommand::Put { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let definition: Experiment = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an experiment", file.display()))?;
            put(&target, &definition).await?;
            eprintln!("experiment {} saved", definition.key);
        }
        ExperimentsCommand::List => {
            let listed: Vec<Experiment> = match &target {
                Target::Local(state) => state.experiments()?,
                Target::Server(server) => server.get("/v1/experiments").await?,
            };
            for experiment in listed {
                println!("{}", serde_json::to_string(&experiment)?);
            }
        }
        ExperimentsCommand::Stop { key } => {
            let mut definition: Experiment = match &target {
                Target::Local(state) => state
                    .experiment(&key)?
                    .with_context(|| format!("no experiment `{key}`"))?,
                Target::Server(server) => {
                    server
                        .get(&format!("/v1/experiments/{}", segment(&key)))
                        .await?
                }
            };
            definition.stop = Some(chrono::Utc::now());
            put(&target, &definition).await?;
            eprintln!("experiment {key} stopped");
        }
        ExperimentsCommand::Delete { key } => {
            match &target {
                Target::Local(state) => state.delete_experiment(&key, &Actor::local())?,
                Target::Server(server) => {
                    server
                        .delete(&format!("/v1/experiments/{}", segment(&key)))
                        .await?;
                }
            }
            eprintln!("experiment {key} deleted");
        }
        ExperimentsCommand::Results {
            key,
            sequential,
            cuped,
            bayesian,
        } => {
            let results: Value = match target {
                Target::Server(server) => {
                    server
                        .get(&format!(
                            "/v1/experiments/{}/results?sequential={sequential}&cuped={cuped}&bayesian={bayesian}",
                            segment(&key)
                        ))
                        .await?
                }
                Target::Local(state) => {
                    drop(state);
                    let silta = Silta::start(config).await?;
                    let options = ResultsOptions {
                        sequential,
                        cuped,
                        bayesian,
                    };
                    let results = experiment_results(&silta.state, &key, options).await;
                    silta.shutdown().await?;
                    serde_json::to_value(results.map_err(|error| anyhow::anyhow!(error.message))?)?
                }
            };
            println!("{}", serde_json::to_string_pretty(&results)?);
        }
    }
    Ok(())
}

/// Saves a definition, checked first, in the data directory or through the server.
async fn put(target: &Target, definition: &Experiment) -> anyhow::Result<()> {
    definition.validate()?;
    match target {
        Target::Local(state) => Ok(state.put_experiment(definition, &Actor::local())?),
        Target::Server(server) => {
            let _: Value = server
                .put(
                    &format!("/v1/experiments/{}", segment(&definition.key)),
                    definition,
                )
                .await?;
            Ok(())
        }
    }
}
