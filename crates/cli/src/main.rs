//! `silta`: run the server, manage sources and tokens, query, load demo data, benchmark.

mod client;
mod commands;
mod settings;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

// Ingestion allocates many small strings from several threads at once; glibc's allocator spends
// much of that time in arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "silta", version, about = "Silta customer data platform")]
struct Cli {
    /// TOML configuration file; `SILTA_*` environment variables and flags override it.
    #[arg(long, global = true, env = "SILTA_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory.
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(commands::serve::ServeArgs),
    /// Manage sources (systems that send data) and their write keys.
    Sources {
        #[command(subcommand)]
        command: commands::sources::SourcesCommand,
    },
    /// Manage API tokens.
    Tokens {
        #[command(subcommand)]
        command: commands::tokens::TokensCommand,
    },
    /// Print the audit log (admin): every change of configuration, source, key and token.
    Audit(commands::audit::AuditArgs),
    /// Run a read-only SQL query over the event store.
    Sql(commands::sql::SqlArgs),
    /// Look up customer profiles.
    Profiles {
        #[command(subcommand)]
        command: commands::profiles::ProfilesCommand,
    },
    /// Identity resolution.
    Identity {
        #[command(subcommand)]
        command: commands::profiles::IdentityCommand,
    },
    /// Data-subject requests: export or erase everything about a person.
    Subjects {
        #[command(subcommand)]
        command: commands::subjects::SubjectsCommand,
    },
    /// A/B experiments: definitions and results.
    Experiments {
        #[command(subcommand)]
        command: commands::experiments::ExperimentsCommand,
    },
    /// Funnels, retention, web analytics and attribution, as JSON.
    Analytics {
        #[command(subcommand)]
        command: commands::analytics::AnalyticsCommand,
    },
    /// Ad spend per day and channel, for attribution and media mix.
    Spend {
        #[command(subcommand)]
        command: commands::spend::SpendCommand,
    },
    /// Audiences: define, preview, refresh, export, delete.
    Audiences {
        #[command(subcommand)]
        command: commands::audiences::AudiencesCommand,
    },
    /// Tracking plans as data contracts: draft, propose, review, export, diff, attach.
    Plan {
        #[command(subcommand)]
        command: commands::contracts::PlanCommand,
    },
    /// Events kept in quarantine: list, inspect, replay those a plan blocked.
    Quarantine {
        #[command(subcommand)]
        command: commands::contracts::QuarantineCommand,
    },
    /// Tracking-plan violations per source, event, field and kind.
    Violations(commands::contracts::ViolationsArgs),
    /// Retention: delete what is older than the policy allows.
    Retention {
        #[command(subcommand)]
        command: commands::retention::RetentionCommand,
    },
    /// Media mix: fit models on spend and a KPI, optimise budgets, compare scenarios.
    MediaMix {
        #[command(subcommand)]
        command: commands::media_mix::MediaMixCommand,
    },
    /// Destinations: the systems Silta feeds (webhooks, NATS), their queues and dead letters.
    Destinations {
        #[command(subcommand)]
        command: commands::destinations::DestinationsCommand,
    },
    /// Load the seeded multi-channel demo data set through the ingestion path.
    Demo(commands::demo::DemoArgs),
    /// Benchmarks against a named peer measured in the same run.
    Bench {
        #[command(subcommand)]
        command: commands::bench::BenchCommand,
    },
}

fn main() -> anyhow::Result<()> {
    // mimalloc asks for transparent huge pages; the kernel then zeroes 2 MiB at each fault of
    // memory mimalloc had given back, which took a fifth of the server's time under load.
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("could not turn transparent huge pages off: {error}");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SILTA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let overrides = settings::Overrides {
            config_file: cli.config,
            data: cli.data,
            serve: match &cli.command {
                Command::Serve(args) => Some(args),
                _ => None,
            },
        };
        let config = settings::load(&overrides)?;
        match cli.command {
            Command::Serve(args) => commands::serve::run(config, args).await,
            Command::Sources { command } => commands::sources::run(config, command).await,
            Command::Tokens { command } => commands::tokens::run(config, command).await,
            Command::Audit(args) => commands::audit::run(config, args).await,
            Command::Sql(args) => commands::sql::run(config, args).await,
            Command::Profiles { command } => commands::profiles::run(config, command).await,
            Command::Identity { command } => {
                commands::profiles::run_identity(config, command).await
            }
            Command::Subjects { command } => commands::subjects::run(config, command).await,
            Command::Experiments { command } => commands::experiments::run(config, command).await,
            Command::Analytics { command } => commands::analytics::run(config, command).await,
            Command::Audiences { command } => commands::audiences::run(config, command).await,
            Command::Spend { command } => commands::spend::run(config, command).await,
            Command::MediaMix { command } => commands::media_mix::run(config, command).await,
            Command::Retention { command } => commands::retention::run(config, command).await,
            Command::Plan { command } => commands::contracts::run_plan(config, command).await,
            Command::Quarantine { command } => {
                commands::contracts::run_quarantine(config, command).await
            }
            Command::Violations(args) => commands::contracts::run_violations(config, args).await,
            Command::Destinations { command } => commands::destinations::run(config, command).await,
            Command::Demo(args) => commands::demo::run(config, args).await,
            Command::Bench { command } => commands::bench::run(config, command).await,
        }
    })
}
