use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use silta_server::{
    Config, DefinitionRequest, preview_definition, refresh_audience, save_audience,
};
use silta_state::Actor;

use crate::client::{self, Target, locally};

#[derive(Args)]
pub struct Definition {
    /// The definition in the text form, e.g. `event("Order Completed").count(last 30d) >= 2`.
    #[arg(long, conflicts_with = "file")]
    text: Option<String>,
    /// A JSON file with the condition tree.
    #[arg(long)]
    file: Option<PathBuf>,
    /// Only people who granted consent for this purpose are members.
    #[arg(long)]
    purpose: Option<String>,
}

#[derive(Subcommand)]
pub enum AudiencesCommand {
    /// Create or replace an audience and compute its members.
    Put {
        key: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        definition: Definition,
    },
    /// How many people a definition selects now, without saving it.
    Preview {
        #[command(flatten)]
        definition: Definition,
        /// Include the SQL the definition compiles to.
        #[arg(long)]
        explain: bool,
    },
    /// List audiences as JSON lines.
    List,
    /// Recompute an audience's members now, recording who entered and who left.
    Refresh { key: String },
    /// Print an audience's members (profile id and entry time) as CSV.
    Members { key: String },
    /// Delete an audience.
    Delete { key: String },
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

fn request(
    definition: Definition,
    name: Option<String>,
    explain: bool,
) -> anyhow::Result<DefinitionRequest> {
    let tree = match &definition.file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a condition tree", file.display()))?,
            )
        }
        None => None,
    };
    Ok(DefinitionRequest {
        name,
        definition: tree,
        text: definition.text,
        purpose: definition.purpose,
        explain,
    })
}

pub async fn run(config: Config, command: AudiencesCommand) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    match command {
        AudiencesCommand::Put {
            key,
            name,
            definition,
        } => {
            let request = request(definition, name, false)?;
            let saved: Value = match target {
                Target::Server(server) => {
                    server
                        .put(&format!("/v1/audiences/{}", segment(&key)), &request)
                        .await?
                }
                Target::Local(state) => {
                    drop(state);
                    let saved = locally(config, async |state| {
                        save_audience(state, &key, &request, &Actor::local()).await
                    })
                    .await?;
                    serde_json::to_value(saved)?
                }
            };
            eprintln!("audience {key} saved: {} members", saved["members"]);
        }
        AudiencesCommand::Preview {
            definition,
            explain,
        } => {
            let request = request(definition, None, explain)?;
            let preview: Value = match target {
                Target::Server(server) => server.post("/v1/audiences/preview", &request).await?,
                Target::Local(state) => {
                    drop(state);
                    let preview = locally(config, async |state| {
                        preview_definition(state, &request).await
                    })
                    .await?;
                    serde_json::to_value(preview)?
                }
            };
            println!("{}", serde_json::to_string_pretty(&preview)?);
        }
        AudiencesCommand::List => {
            let listed: Vec<Value> = match &target {
                Target::Server(server) => server.get("/v1/audiences").await?,
                Target::Local(state) => state
                    .audiences()?
                    .into_iter()
                    .map(serde_json::to_value)
                    .collect::<Result<_, _>>()?,
            };
            for audience in listed {
                println!("{}", serde_json::to_string(&audience)?);
            }
        }
        AudiencesCommand::Refresh { key } => {
            let refreshed: Value = match target {
                Target::Server(server) => {
                    server
                        .post(
                            &format!("/v1/audiences/{}/refresh", segment(&key)),
                            &Value::Null,
                        )
                        .await?
                }
                Target::Local(state) => {
                    drop(state);
                    let refreshed =
                        locally(config, async |state| refresh_audience(state, &key).await).await?;
                    serde_json::to_value(refreshed)?
                }
            };
            println!("{}", serde_json::to_string(&refreshed)?);
        }
        AudiencesCommand::Members { key } => {
            let members: Vec<(String, String)> = match &target {
                Target::Server(server) => {
                    let rows: Vec<Value> = server
                        .get(&format!("/v1/audiences/{}/members", segment(&key)))
                        .await?;
                    rows.iter()
                        .map(|row| {
                            (
                                row["profile_id"].as_str().unwrap_or_default().to_string(),
                                row["entered_at"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                }
                Target::Local(state) => state
                    .audience_members(&key)?
                    .into_iter()
                    .map(|(profile, entered)| (profile, entered.to_rfc3339()))
                    .collect(),
            };
            println!("profile_id,entered_at");
            for (profile, entered) in members {
                println!("{profile},{entered}");
            }
        }
        AudiencesCommand::Delete { key } => {
            match &target {
                Target::Server(server) => {
                    server
                        .delete(&format!("/v1/audiences/{}", segment(&key)))
                        .await?;
                }
                Target::Local(state) => state.delete_audience(&key, &Actor::local())?,
            }
            eprintln!("audience {key} deleted");
        }
    }
    Ok(())
}
