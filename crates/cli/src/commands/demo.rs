use clap::Args;
use silta_server::{Config, DemoReport, DemoRequest, Silta, load_demo};

use crate::client::{self, Target};

#[derive(Args, Clone)]
pub struct DemoArgs {
    /// About how many events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Last day of the data (YYYY-MM-DD); yesterday when absent. Same seed and end date give the
    /// same data set.
    #[arg(long)]
    pub end_date: Option<chrono::NaiveDate>,
}

impl DemoArgs {
    pub fn request(&self) -> DemoRequest {
        DemoRequest {
            events: self.events,
            seed: self.seed,
            end_date: self.end_date,
        }
    }
}

pub fn print_report(report: &DemoReport) {
    eprintln!(
        "demo loaded: {} events accepted, {} rejected, {} people, {} orders, revenue {:.2}; {} spend rows; media-mix truth in {}",
        report.accepted,
        report.rejected,
        report.summary.people,
        report.summary.orders,
        report.summary.revenue,
        report.spend_rows,
        report.truth_file
    );
    for source in &report.new_sources {
        eprintln!(
            "created source {} ({}), write key: {}",
            source.owner.name, source.owner.channel, source.secret
        );
    }
}

pub async fn run(config: Config, args: DemoArgs) -> anyhow::Result<()> {
    match client::open(&config.data)? {
        Target::Server(server) => {
            let report: serde_json::Value = server.post("/v1/demo", &args.request()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Target::Local(state) => {
            drop(state);
            let silta = Silta::start(config).await?;
            let report = load_demo(&silta.state, &args.request(), &silta_state::Actor::local())
                .await
                .map_err(|error| anyhow::anyhow!(error.message))?;
            silta.state.store.flush().await?;
            print_report(&report);
        }
    }
    Ok(())
}
