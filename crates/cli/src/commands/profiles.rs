use anyhow::Context;
use clap::Subcommand;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use silta_server::{Config, MergeHistory, ProfileView};

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum ProfilesCommand {
    /// Show the profile holding an identifier, e.g. `silta profiles get email ada@example.com`.
    Get {
        /// anonymous_id, user_id, email, phone, device_id, advertising_id or a custom type.
        identifier_type: String,
        value: String,
    },
    /// Show how a profile was merged together, by profile id.
    Merges { profile_id: String },
}

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Recompute the identity graph from the events table and report what it found (the server
    /// does the same at every start, so configuration changes apply on restart).
    Rebuild,
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

pub async fn run(config: Config, command: ProfilesCommand) -> anyhow::Result<()> {
    let answer: Value = match client::open(&config.data)? {
        Target::Server(server) => {
            let path = match &command {
                ProfilesCommand::Get {
                    identifier_type,
                    value,
                } => format!(
                    "/v1/profiles/{}/{}",
                    segment(identifier_type),
                    segment(value)
                ),
                ProfilesCommand::Merges { profile_id } => {
                    format!("/v1/profiles/{}/merges", segment(profile_id))
                }
            };
            server.get(&path).await?
        }
        Target::Local(state) => {
            let _state = state;
            let (_, identity, _) = silta_server::open_offline(&config).await?;
            let graph = identity.read();
            match &command {
                ProfilesCommand::Get {
                    identifier_type,
                    value,
                } => {
                    let profile = graph
                        .lookup(identifier_type, value)?
                        .with_context(|| format!("no profile has {identifier_type} `{value}`"))?;
                    serde_json::to_value(ProfileView::of(&graph, profile))?
                }
                ProfilesCommand::Merges { profile_id } => {
                    let profile = graph
                        .profile(profile_id)
                        .with_context(|| format!("no profile `{profile_id}`"))?;
                    serde_json::to_value(MergeHistory {
                        profile_id: profile.id.clone(),
                        merges: graph.merges_of(profile).into_iter().cloned().collect(),
                    })?
                }
            }
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

pub async fn run_identity(config: Config, command: IdentityCommand) -> anyhow::Result<()> {
    let IdentityCommand::Rebuild = command;
    let Target::Local(state) = client::open(&config.data)? else {
        anyhow::bail!(
            "a server is running on this data directory; it rebuilds the graph when it starts"
        );
    };
    let _state = state;
    let (_, identity, report) = silta_server::open_offline(&config).await?;
    let graph = identity.read();
    println!(
        "{} events -> {} identifiers in {} profiles ({} merges, {} refusals)",
        report.events,
        report.identifiers,
        report.profiles,
        report.merges,
        graph.refusals().len()
    );
    println!(
        "resolved {:.0} identifiers/s ({:.2} s resolving, {:.2} s in all including reading the table)",
        report.identifiers as f64 / report.resolve_seconds.max(f64::EPSILON),
        report.resolve_seconds,
        report.total_seconds
    );
    Ok(())
}
