use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use silta_server::{
    ApiError, AppState, AttributionRequest, Config, Format, FunnelRequest, RetentionRequest, Silta,
    Tabular, WebRequest, csv_text,
};

use crate::client::{self, Target};

#[derive(Args)]
pub struct Request {
    /// The request body as the endpoint takes it, in a JSON file.
    file: PathBuf,
    /// Print a CSV table instead of JSON.
    #[arg(long)]
    csv: bool,
}

#[derive(Subcommand)]
pub enum AnalyticsCommand {
    /// A funnel (`POST /v1/analytics/funnel`).
    Funnel(Request),
    /// A retention triangle (`POST /v1/analytics/retention`).
    Retention(Request),
    /// Web analytics over a date range, beside the period before it.
    Web {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        /// IANA time zone of the dates, e.g. Europe/Berlin (UTC by default).
        #[arg(long)]
        time_zone: Option<String>,
        /// Rows per breakdown.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Leave out the comparison with the previous period.
        #[arg(long)]
        no_compare: bool,
        /// Include the SQL that read the events.
        #[arg(long)]
        explain: bool,
        /// Print a CSV table instead of JSON.
        #[arg(long)]
        csv: bool,
    },
    /// Attribution (`POST /v1/analytics/attribution`).
    Attribution(Request),
}

fn read<T: DeserializeOwned>(file: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid request", file.display()))
}

/// How the running server is asked; the path without the format.
enum Remote {
    Post(&'static str, Value),
    Get(String),
}

/// The answer as text, through the running server or with Silta started on the data
/// directory.
async fn answer<T, F, Fut>(
    config: Config,
    remote: Remote,
    format: Format,
    local: F,
) -> anyhow::Result<String>
where
    T: Serialize + Tabular,
    F: FnOnce(AppState) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let csv = format == Format::Csv;
    match client::open(&config.data)? {
        Target::Server(server) => {
            let text = match remote {
                Remote::Post(path, body) => {
                    let path = if csv {
                        format!("{path}?format=csv")
                    } else {
                        path.to_string()
                    };
                    server.post_text(&path, &body).await?
                }
                Remote::Get(path) => {
                    let path = if csv {
                        format!("{path}&format=csv")
                    } else {
                        path
                    };
                    server.get_text(&path).await?
                }
            };
            if csv {
                return Ok(text);
            }
            Ok(serde_json::to_string_pretty(
                &serde_json::from_str::<Value>(&text)?,
            )?)
        }
        Target::Local(state) => {
            drop(state);
            let silta = Silta::start(config).await?;
            let answer = local(silta.state.clone()).await;
            silta.shutdown().await?;
            let answer = answer.map_err(|error| anyhow::anyhow!(error.message))?;
            if csv {
                return csv_text(&answer).map_err(|error| anyhow::anyhow!(error.message));
            }
            Ok(serde_json::to_string_pretty(&answer)?)
        }
    }
}

fn format(csv: bool) -> Format {
    if csv { Format::Csv } else { Format::Json }
}

pub async fn run(config: Config, command: AnalyticsCommand) -> anyhow::Result<()> {
    let text = match command {
        AnalyticsCommand::Funnel(Request { file, csv }) => {
            let request: FunnelRequest = read(&file)?;
            let remote = Remote::Post("/v1/analytics/funnel", read(&file)?);
            answer(config, remote, format(csv), |state| async move {
                silta_server::funnel(&state, &request).await
            })
            .await?
        }
        AnalyticsCommand::Retention(Request { file, csv }) => {
            let request: RetentionRequest = read(&file)?;
            let remote = Remote::Post("/v1/analytics/retention", read(&file)?);
            answer(config, remote, format(csv), |state| async move {
                silta_server::retention(&state, &request).await
            })
            .await?
        }
        AnalyticsCommand::Attribution(Request { file, csv }) => {
            let request: AttributionRequest = read(&file)?;
            let remote = Remote::Post("/v1/analytics/attribution", read(&file)?);
            answer(config, remote, format(csv), |state| async move {
                silta_server::attribution(&state, &request).await
            })
            .await?
        }
        AnalyticsCommand::Web {
            from,
            to,
            time_zone,
            top,
            no_compare,
            explain,
            csv,
        } => {
            let mut path = format!(
                "/v1/analytics/web?from={from}&to={to}&top={top}&compare={}&explain={explain}",
                !no_compare
            );
            if let Some(zone) = &time_zone {
                path.push_str("&time_zone=");
                path.push_str(&utf8_percent_encode(zone, NON_ALPHANUMERIC).to_string());
            }
            let request = WebRequest {
                from,
                to,
                time_zone,
                compare: !no_compare,
                top,
                session_gap_minutes: 30,
                explain,
                format: Format::Json,
            };
            answer(config, Remote::Get(path), format(csv), |state| async move {
                silta_server::web(&state, &request).await
            })
            .await?
        }
    };
    println!("{}", text.trim_end());
    Ok(())
}
