use clap::Subcommand;
use serde_json::json;
use silta_model::Channel;
use silta_server::Config;
use silta_state::{NewSecret, Source};

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum SourcesCommand {
    /// Create a source and print its write key (shown once).
    Add {
        #[arg(long)]
        name: String,
        /// web, app, email, shop, loyalty, ads, crm, server or other
        #[arg(long)]
        channel: Channel,
    },
    /// List sources.
    List,
}

pub async fn run(config: Config, command: SourcesCommand) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    match command {
        SourcesCommand::Add { name, channel } => {
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let created: NewSecret<Source> = match target {
                Target::Local(state) => state.add_source(name.trim(), channel)?,
                Target::Server(server) => {
                    server
                        .post("/v1/sources", &json!({"name": name, "channel": channel}))
                        .await?
                }
            };
            eprintln!(
                "source {} ({}, {}); its write key, shown once:",
                created.owner.id, created.owner.name, created.owner.channel
            );
            println!("{}", created.secret);
        }
        SourcesCommand::List => {
            let sources: Vec<Source> = match target {
                Target::Local(state) => state.sources()?,
                Target::Server(server) => server.get("/v1/sources").await?,
            };
            for source in sources {
                println!(
                    "{}\t{}\t{}\t{}",
                    source.id,
                    source.channel,
                    source.created_at.to_rfc3339(),
                    source.name
                );
            }
        }
    }
    Ok(())
}
