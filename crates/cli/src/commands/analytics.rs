use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Subcommand;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use silta_server::{
    ApiError, AppState, AttributionRequest, Config, FunnelRequest, RetentionRequest, Silta,
    WebRequest,
};

use crate::client::{self, Target};

#[derive(Subcommand)]
pub enum AnalyticsCommand {
    /// A funnel defined in a JSON file (as `POST /v1/analytics/funnel` takes).
    Funnel { file: PathBuf },
    /// A retention triangle defined in a JSON file (as `POST /v1/analytics/retention` takes).
    Retention { file: PathBuf },
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
    },
    /// Attribution defined in a JSON file (as `POST /v1/analytics/attribution` takes).
    Attribution { file: PathBuf },
}

fn read<T: DeserializeOwned>(file: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid request", file.display()))
}

/// How the running server is asked.
enum Remote {
    Post(&'static str, Value),
    Get(String),
}

/// Answers through the running server, or with Silta started on the data directory.
async fn answer<T, F, Fut>(config: Config, remote: Remote, local: F) -> anyhow::Result<Value>
where
    T: Serialize,
    F: FnOnce(AppState) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    match client::open(&config.data)? {
        Target::Server(server) => match remote {
            Remote::Post(path, body) => server.post(path, &body).await,
            Remote::Get(path) => server.get(&path).await,
        },
        Target::Local(state) => {
            drop(state);
            let silta = Silta::start(config).await?;
            let answer = local(silta.state.clone()).await;
            silta.shutdown().await?;
            let answer = answer.map_err(|error| anyhow::anyhow!(error.message))?;
            Ok(serde_json::to_value(answer)?)
        }
    }
}

pub async fn run(config: Config, command: AnalyticsCommand) -> anyhow::Result<()> {
    let answer = match command {
        AnalyticsCommand::Funnel { file } => {
            let request: FunnelRequest = read(&file)?;
            let remote = Remote::Post("/v1/analytics/funnel", read(&file)?);
            answer(config, remote, |state| async move {
                silta_server::funnel(&state, &request).await
            })
            .await?
        }
        AnalyticsCommand::Retention { file } => {
            let request: RetentionRequest = read(&file)?;
            let remote = Remote::Post("/v1/analytics/retention", read(&file)?);
            answer(config, remote, |state| async move {
                silta_server::retention(&state, &request).await
            })
            .await?
        }
        AnalyticsCommand::Attribution { file } => {
            let request: AttributionRequest = read(&file)?;
            let remote = Remote::Post("/v1/analytics/attribution", read(&file)?);
            answer(config, remote, |state| async move {
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
        } => {
            let request = WebRequest {
                from,
                to,
                time_zone,
                compare: !no_compare,
                top,
                session_gap_minutes: 30,
                explain,
            };
            let mut path = format!(
                "/v1/analytics/web?from={from}&to={to}&top={top}&compare={}&explain={explain}",
                !no_compare
            );
            if let Some(zone) = &request.time_zone {
                path.push_str("&time_zone=");
                path.push_str(&utf8_percent_encode(zone, NON_ALPHANUMERIC).to_string());
            }
            answer(config, Remote::Get(path), |state| async move {
                silta_server::web(&state, &request).await
            })
            .await?
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
