use clap::Subcommand;
use serde_json::json;
use silta_server::{Config, Silta, apply_retention};
use silta_state::Actor;
use silta_store::Erased;

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Delete events and quarantined events older than the retention policy allows, now.
    Apply,
}

pub async fn run(config: Config, command: RetentionCommand) -> anyhow::Result<()> {
    let RetentionCommand::Apply = command;
    let erased: Erased = match client::open(&config.data)? {
        Target::Server(server) => server.post("/v1/retention/apply", &json!({})).await?,
        Target::Local(state) => {
            drop(state);
            let policy = config.retention.clone();
            let silta = Silta::start(config).await?;
            let applied = apply_retention(&silta.state, &policy, &Actor::local()).await;
            silta.shutdown().await?;
            applied.map_err(|error| anyhow::anyhow!(error.message))?
        }
    };
    println!("{}", serde_json::to_string(&erased)?);
    Ok(())
}
