use std::time::Duration;

use clap::Subcommand;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use silta_server::{Config, Silta, erase_subject, export_subject};
use silta_state::{Actor, RequestStatus, SubjectRequest};

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum SubjectsCommand {
    /// Print everything Silta holds about a person as JSON (GDPR articles 15 and 20).
    Export {
        /// anonymous_id, user_id, email, phone, device_id, advertising_id or a custom type.
        identifier_type: String,
        value: String,
    },
    /// Erase a person from every store and refuse their future events (GDPR article 17); waits
    /// until the erasure has completed.
    Erase {
        identifier_type: String,
        value: String,
    },
    /// List data-subject requests and their status.
    Requests,
}

fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

fn print_request(request: &SubjectRequest) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(request)?);
    Ok(())
}

pub async fn run(config: Config, command: SubjectsCommand) -> anyhow::Result<()> {
    match client::open(&config.data)? {
        Target::Server(server) => match command {
            SubjectsCommand::Export {
                identifier_type,
                value,
            } => {
                let path = format!(
                    "/v1/subjects/{}/{}",
                    segment(&identifier_type),
                    segment(&value)
                );
                let export: serde_json::Value = server.get(&path).await?;
                println!("{}", serde_json::to_string_pretty(&export)?);
            }
            SubjectsCommand::Erase {
                identifier_type,
                value,
            } => {
                let path = format!(
                    "/v1/subjects/{}/{}/erase",
                    segment(&identifier_type),
                    segment(&value)
                );
                let mut request: SubjectRequest = server.post(&path, &json!({})).await?;
                while matches!(
                    request.status,
                    RequestStatus::Pending | RequestStatus::Running
                ) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    request = server
                        .get(&format!("/v1/subjects/requests/{}", request.id))
                        .await?;
                }
                print_request(&request)?;
            }
            SubjectsCommand::Requests => {
                let requests: Vec<SubjectRequest> = server.get("/v1/subjects/requests").await?;
                for request in &requests {
                    print_request(request)?;
                }
            }
        },
        Target::Local(state) => {
            let (erase, identifier_type, value) = match command {
                SubjectsCommand::Requests => {
                    for request in &state.subject_requests()? {
                        print_request(request)?;
                    }
                    return Ok(());
                }
                SubjectsCommand::Export {
                    identifier_type,
                    value,
                } => (false, identifier_type, value),
                SubjectsCommand::Erase {
                    identifier_type,
                    value,
                } => (true, identifier_type, value),
            };
            drop(state);
            let silta = Silta::start(config).await?;
            let actor = Actor::local();
            let outcome = if erase {
                match erase_subject(&silta.state, &identifier_type, &value, &actor).await {
                    Ok((request, job)) => {
                        job.await?;
                        let done = silta.state.credentials.subject_request(&request.id)?;
                        Ok(serde_json::to_string(&done))
                    }
                    Err(error) => Err(error),
                }
            } else {
                export_subject(&silta.state, &identifier_type, &value, &actor)
                    .await
                    .map(|export| serde_json::to_string_pretty(&export))
            };
            silta.shutdown().await?;
            let text = outcome.map_err(|error| anyhow::anyhow!(error.message))??;
            println!("{text}");
        }
    }
    Ok(())
}
