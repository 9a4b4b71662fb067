use clap::Subcommand;
use serde_json::json;
use silta_model::{BotPolicy, Channel, ConsentPolicy};
use silta_server::Config;
use silta_state::{Actor, NewSecret, Source, SourcePolicies, WriteKey};

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
    /// List a source's write keys (their ids; the keys themselves are stored only hashed).
    Keys { source_id: String },
    /// Issue another write key for a source and print it (shown once); the others keep working
    /// until revoked, so senders can move over first.
    AddKey { source_id: String },
    /// Revoke a write key; it stops working at once.
    RevokeKey { source_id: String, key_id: String },
    /// Set what the source does with events without analytics consent and with bots' events.
    Policies {
        source_id: String,
        /// keep (default), drop or anonymise events that do not grant analytics consent
        #[arg(long)]
        consent: Option<ConsentPolicy>,
        /// flag (default) or drop events flagged as a bot's
        #[arg(long)]
        bots: Option<BotPolicy>,
    },
}

pub async fn run(config: Config, command: SourcesCommand) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    match command {
        SourcesCommand::Add { name, channel } => {
            anyhow::ensure!(!name.trim().is_empty(), "--name must not be empty");
            let created: NewSecret<Source> = match target {
                Target::Local(state) => state.add_source(name.trim(), channel, &Actor::local())?,
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
                    "{}\t{}\t{}\tconsent:{}\tbots:{}\t{}",
                    source.id,
                    source.channel,
                    source.created_at.to_rfc3339(),
                    source.consent_policy,
                    source.bot_policy,
                    source.name
                );
            }
        }
        SourcesCommand::Keys { source_id } => {
            let keys: Vec<WriteKey> = match target {
                Target::Local(state) => state.write_keys(&source_id)?,
                Target::Server(server) => {
                    server
                        .get(&format!("/v1/sources/{source_id}/write-keys"))
                        .await?
                }
            };
            for key in keys {
                println!("{}\t{}", key.id, key.created_at.to_rfc3339());
            }
        }
        SourcesCommand::AddKey { source_id } => {
            let created: NewSecret<WriteKey> = match target {
                Target::Local(state) => state.add_write_key(&source_id, &Actor::local())?,
                Target::Server(server) => {
                    server
                        .post(&format!("/v1/sources/{source_id}/write-keys"), &json!({}))
                        .await?
                }
            };
            eprintln!(
                "write key {} for source {source_id}, shown once:",
                created.owner.id
            );
            println!("{}", created.secret);
        }
        SourcesCommand::Policies {
            source_id,
            consent,
            bots,
        } => {
            let policies = SourcePolicies {
                consent_policy: consent,
                bot_policy: bots,
            };
            anyhow::ensure!(
                policies != SourcePolicies::default(),
                "name --consent or --bots"
            );
            let source: Source = match target {
                Target::Local(state) => {
                    state.set_source_policies(&source_id, policies, &Actor::local())?
                }
                Target::Server(server) => {
                    server
                        .patch(&format!("/v1/sources/{source_id}"), &policies)
                        .await?
                }
            };
            eprintln!(
                "source {}: consent policy {}, bot policy {}",
                source.id, source.consent_policy, source.bot_policy
            );
        }
        SourcesCommand::RevokeKey { source_id, key_id } => {
            match target {
                Target::Local(state) => {
                    state.revoke_write_key(&source_id, &key_id, &Actor::local())?;
                }
                Target::Server(server) => {
                    server
                        .delete(&format!("/v1/sources/{source_id}/write-keys/{key_id}"))
                        .await?;
                }
            }
            eprintln!("write key {key_id} revoked");
        }
    }
    Ok(())
}
