use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::Value;
use silta_destinations::DestinationSpec;
use silta_server::{
    Config, create_destination, delete_destination, list_destinations, replay_dead_letters,
    show_destination, sync_destination, test_destination,
};
use silta_state::Actor;

use crate::client;

#[derive(Subcommand)]
pub enum DestinationsCommand {
    /// Add a destination from a JSON file (as `POST /v1/destinations` takes); prints it.
    Add { file: PathBuf },
    /// Replace a destination's configuration from a JSON file; its queue stays.
    Update { id: String, file: PathBuf },
    /// List destinations with their delivery figures, as JSON lines.
    List,
    /// One destination with its delivery figures.
    Show { id: String },
    /// Delete a destination with its queue and dead letters.
    Delete { id: String },
    /// Send one sample event now and print the receiver's answer.
    Test { id: String },
    /// Print the oldest dead letters, with why each failed.
    DeadLetters {
        id: String,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put every dead letter back in the queue.
    Replay { id: String },
    /// Queue every member of the audiences the destination activates (a full sync).
    Sync { id: String },
}

fn spec_from(file: &PathBuf) -> anyhow::Result<DestinationSpec> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a destination configuration", file.display()))
}

fn print(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn run(config: Config, command: DestinationsCommand) -> anyhow::Result<()> {
    // Deliveries run in the server: without one, Silta starts here for the command.
    let server = client::running_server(&config.data)?;
    let actor = Actor::local();
    match command {
        DestinationsCommand::Add { file } => {
            let spec = spec_from(&file)?;
            let created: Value = match &server {
                Some(server) => server.post("/v1/destinations", &spec).await?,
                None => {
                    client::locally(config, async |state| {
                        create_destination(state, spec, &actor)
                    })
                    .await?
                }
            };
            print(&created)?;
        }
        DestinationsCommand::Update { id, file } => {
            let spec = spec_from(&file)?;
            let updated: Value = match &server {
                Some(server) => server.put(&format!("/v1/destinations/{id}"), &spec).await?,
                None => {
                    client::locally(config, async |state| {
                        silta_server::replace_destination(state, &id, spec, &actor)
                    })
                    .await?
                }
            };
            print(&updated)?;
        }
        DestinationsCommand::List => {
            let listed: Vec<Value> = match &server {
                Some(server) => server.get("/v1/destinations").await?,
                None => client::locally(config, async |state| list_destinations(state)).await?,
            };
            for destination in listed {
                println!("{}", serde_json::to_string(&destination)?);
            }
        }
        DestinationsCommand::Show { id } => {
            let shown: Value = match &server {
                Some(server) => server.get(&format!("/v1/destinations/{id}")).await?,
                None => client::locally(config, async |state| show_destination(state, &id)).await?,
            };
            print(&shown)?;
        }
        DestinationsCommand::Delete { id } => {
            match &server {
                Some(server) => server.delete(&format!("/v1/destinations/{id}")).await?,
                None => {
                    client::locally(config, async |state| delete_destination(state, &id, &actor))
                        .await?
                }
            }
            eprintln!("destination {id} deleted");
        }
        DestinationsCommand::Test { id } => {
            let answer: Value = match &server {
                Some(server) => {
                    server
                        .post(&format!("/v1/destinations/{id}/test"), &Value::Null)
                        .await?
                }
                None => {
                    client::locally(config, async |state| test_destination(state, &id).await)
                        .await?
                }
            };
            print(&answer)?;
        }
        DestinationsCommand::DeadLetters { id, limit } => {
            let letters: Value = match &server {
                Some(server) => {
                    server
                        .get(&format!("/v1/destinations/{id}/dead-letters?limit={limit}"))
                        .await?
                }
                None => {
                    client::locally(config, async |state| {
                        silta_server::dead_letters(state, &id, limit)
                    })
                    .await?
                }
            };
            print(&letters)?;
        }
        DestinationsCommand::Replay { id } => {
            let replayed: Value = match &server {
                Some(server) => {
                    server
                        .post(
                            &format!("/v1/destinations/{id}/dead-letters/replay"),
                            &Value::Null,
                        )
                        .await?
                }
                None => {
                    client::locally(config, async |state| {
                        replay_dead_letters(state, &id, &actor)
                    })
                    .await?
                }
            };
            print(&replayed)?;
        }
        DestinationsCommand::Sync { id } => {
            let queued: Value = match &server {
                Some(server) => {
                    server
                        .post(&format!("/v1/destinations/{id}/sync"), &Value::Null)
                        .await?
                }
                None => {
                    client::locally(config, async |state| sync_destination(state, &id, &actor))
                        .await?
                }
            };
            print(&queued)?;
        }
    }
    Ok(())
}
