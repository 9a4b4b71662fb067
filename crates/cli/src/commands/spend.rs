use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::Value;
use silta_server::{Config, Silta, parse_spend_csv, replace_spend};
use silta_state::Actor;

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum SpendCommand {
    /// Replace the spend table with a CSV file (date, channel, spend, and optionally
    /// campaign, impressions, clicks).
    Load { file: PathBuf },
}

pub async fn run(config: Config, command: SpendCommand) -> anyhow::Result<()> {
    let SpendCommand::Load { file } = command;
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let loaded: Value = match client::open(&config.data)? {
        Target::Server(server) => server.put_csv("/v1/spend", bytes).await?,
        Target::Local(state) => {
            drop(state);
            let records = parse_spend_csv(&bytes).map_err(|problems| {
                anyhow::anyhow!("{}: {}", file.display(), problems.join("; "))
            })?;
            let silta = Silta::start(config).await?;
            let loaded = replace_spend(&silta.state, &records, &Actor::local()).await;
            silta.shutdown().await?;
            serde_json::to_value(loaded.map_err(|error| anyhow::anyhow!(error.message))?)?
        }
    };
    println!("{}", serde_json::to_string(&loaded)?);
    Ok(())
}
