//! `silta plan`, `silta quarantine` and `silta violations`: tracking plans as data contracts,
//! on the running server or directly on the data directory.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use silta_model::ContractMode;
use silta_server::{Config, QuarantineQuery, ReplayRequest, ViolationsQuery};
use silta_state::{Actor, SourceContract};

use crate::client::{self, Target, locally};

fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

#[derive(Subcommand)]
pub enum PlanCommand {
    /// Write a draft plan (YAML) from the events a source sent: names, property types,
    /// enumerations and how often each property is present.
    Draft {
        /// The source's id or name.
        #[arg(long)]
        source: String,
        /// How far back: `30d`, `12h`, `90m` or an RFC 3339 time.
        #[arg(long, default_value = "30d")]
        since: String,
        /// The draft plan's name.
        #[arg(long)]
        name: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Propose a new version of plan KEY from a YAML or JSON file (every problem is reported
    /// with its line and column).
    Propose { key: String, file: PathBuf },
    /// Approve a proposed version (admin); it applies to new events at once.
    Approve {
        key: String,
        version: u32,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a proposed version (admin), saying why.
    Reject {
        key: String,
        version: u32,
        #[arg(long)]
        comment: String,
    },
    /// List plans with their versions and sources, as JSON lines.
    List,
    /// Print one plan's versions as JSON.
    Show { key: String },
    /// Print a version's document as YAML (or JSON).
    Export {
        key: String,
        /// A version number, `approved` or `latest`.
        #[arg(long, default_value = "approved")]
        version: String,
        #[arg(long)]
        json: bool,
    },
    /// What changed between two versions, one line per change.
    Diff {
        key: String,
        /// From this version (default: the approved one).
        #[arg(long)]
        from: Option<String>,
        /// To this version (default: the latest).
        #[arg(long)]
        to: Option<String>,
    },
    /// Check a source's events against plan KEY (admin).
    Attach {
        /// The source id.
        source: String,
        #[arg(long)]
        plan: String,
        /// What happens to events that break the plan: allow, flag or block.
        #[arg(long, default_value = "allow")]
        mode: ContractMode,
        /// What happens to events the plan does not know: allow, flag or block.
        #[arg(long, default_value = "allow")]
        unplanned: ContractMode,
    },
    /// Stop checking a source's events (admin).
    Detach { source: String },
    /// Delete a plan no source keeps to (admin).
    Delete { key: String },
}

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// List quarantined events as JSON lines, newest first.
    List {
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        since: Option<String>,
        /// Only events a plan blocked that are not yet replayed.
        #[arg(long)]
        replayable: bool,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Print one quarantined event with its payload.
    Show { record: u64 },
    /// Replay blocked events (these records, or every replayable one of `--source`) through
    /// the source's current policies and plan.
    Replay {
        records: Vec<u64>,
        #[arg(long, conflicts_with = "records")]
        source: Option<String>,
    },
}

#[derive(Args)]
pub struct ViolationsArgs {
    #[arg(long)]
    source: Option<String>,
    #[arg(long)]
    plan: Option<String>,
    #[arg(long, default_value = "30d")]
    since: String,
    /// CSV instead of JSON lines.
    #[arg(long)]
    csv: bool,
}

fn print_lines(rows: &Value) -> anyhow::Result<()> {
    for row in rows.as_array().into_iter().flatten() {
        println!("{}", serde_json::to_string(row)?);
    }
    Ok(())
}

fn print_changes(changes: &Value) {
    for change in changes.as_array().into_iter().flatten() {
        let sign = match change["kind"].as_str() {
            Some("added") => '+',
            Some("removed") => '-',
            _ => '~',
        };
        let field = change["field"]
            .as_str()
            .map(|field| format!(" {field}"))
            .unwrap_or_default();
        println!(
            "{sign} {}{field}: {}",
            change["event"].as_str().unwrap_or_default(),
            change["text"].as_str().unwrap_or_default()
        );
    }
}

pub async fn run_plan(config: Config, command: PlanCommand) -> anyhow::Result<()> {
    let server = client::running_server(&config.data)?;
    let actor = Actor::local();
    match command {
        PlanCommand::Draft {
            source,
            since,
            name,
            output,
        } => {
            let yaml = match &server {
                Some(server) => {
                    let mut path = format!(
                        "/v1/plans/draft?format=yaml&source={}&since={}",
                        segment(&source),
                        segment(&since)
                    );
                    if let Some(name) = &name {
                        path.push_str(&format!("&name={}", segment(name)));
                    }
                    server.get_text(&path).await?
                }
                None => {
                    let plan = locally(config, async |state| {
                        let since = silta_server::parse_since(&since)?;
                        silta_server::draft_plan(state, &source, since, name.as_deref()).await
                    })
                    .await?;
                    silta_contracts::plan_to_yaml(&plan)
                }
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, yaml)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("draft written to {}", path.display());
                }
                None => print!("{yaml}"),
            }
        }
        PlanCommand::Propose { key, file } => {
            let text =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let plan = silta_server::read_plan(&text).map_err(|error| {
                anyhow::anyhow!("{} has problems:\n{}", file.display(), error.message)
            })?;
            let proposal: Value = match &server {
                Some(server) => {
                    server
                        .post(&format!("/v1/plans/{}/versions", segment(&key)), &plan)
                        .await?
                }
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::propose_plan(state, &key, &plan, &actor)
                    })
                    .await?,
                )?,
            };
            eprintln!(
                "plan {key} version {} proposed; changes against the approved version:",
                proposal["version"]
            );
            print_changes(&proposal["changes"]);
        }
        PlanCommand::Approve {
            key,
            version,
            comment,
        } => review(config, server, &key, version, true, comment, &actor).await?,
        PlanCommand::Reject {
            key,
            version,
            comment,
        } => review(config, server, &key, version, false, Some(comment), &actor).await?,
        PlanCommand::List => {
            let plans: Value = match &server {
                Some(server) => server.get("/v1/plans").await?,
                None => serde_json::to_value(
                    locally(config, async |state| silta_server::list_plans(state)).await?,
                )?,
            };
            print_lines(&plans)?;
        }
        PlanCommand::Show { key } => {
            let plan: Value = match &server {
                Some(server) => server.get(&format!("/v1/plans/{}", segment(&key))).await?,
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::plan_overview(state, &key)
                    })
                    .await?,
                )?,
            };
            println!("{}", serde_json::to_string_pretty(&plan)?);
        }
        PlanCommand::Export { key, version, json } => {
            let plan: silta_contracts::TrackingPlan = match &server {
                Some(server) => {
                    server
                        .get(&format!(
                            "/v1/plans/{}/versions/{}",
                            segment(&key),
                            segment(&version)
                        ))
                        .await?
                }
                None => {
                    locally(config, async |state| {
                        silta_server::plan_version(state, &key, &version)
                    })
                    .await?
                    .plan
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", silta_contracts::plan_to_yaml(&plan));
            }
        }
        PlanCommand::Diff { key, from, to } => {
            let changes: Value = match &server {
                Some(server) => {
                    let mut path = format!("/v1/plans/{}/diff?", segment(&key));
                    for (name, value) in [("from", &from), ("to", &to)] {
                        if let Some(value) = value {
                            path.push_str(&format!("{name}={}&", segment(value)));
                        }
                    }
                    server.get(&path).await?
                }
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::diff_plan(state, &key, from.as_deref(), to.as_deref())
                    })
                    .await?,
                )?,
            };
            print_changes(&changes);
        }
        PlanCommand::Attach {
            source,
            plan,
            mode,
            unplanned,
        } => {
            let contract = SourceContract {
                plan,
                mode,
                unplanned,
            };
            let updated: Value = match &server {
                Some(server) => {
                    server
                        .put(
                            &format!("/v1/sources/{}/contract", segment(&source)),
                            &contract,
                        )
                        .await?
                }
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::attach_plan(state, &source, Some(contract), &actor)
                    })
                    .await?,
                )?,
            };
            println!("{}", serde_json::to_string(&updated)?);
        }
        PlanCommand::Detach { source } => {
            match &server {
                Some(server) => {
                    server
                        .delete(&format!("/v1/sources/{}/contract", segment(&source)))
                        .await?
                }
                None => {
                    locally(config, async |state| {
                        silta_server::attach_plan(state, &source, None, &actor)
                    })
                    .await?;
                }
            }
            eprintln!("source {source} no longer checked against a plan");
        }
        PlanCommand::Delete { key } => {
            match &server {
                Some(server) => {
                    server
                        .delete(&format!("/v1/plans/{}", segment(&key)))
                        .await?
                }
                None => {
                    locally(config, async |state| {
                        silta_server::delete_plan(state, &key, &actor)
                    })
                    .await?
                }
            }
            eprintln!("plan {key} deleted");
        }
    }
    Ok(())
}

async fn review(
    config: Config,
    server: Option<client::ServerClient>,
    key: &str,
    version: u32,
    approve: bool,
    comment: Option<String>,
    actor: &Actor,
) -> anyhow::Result<()> {
    let verdict = if approve { "approve" } else { "reject" };
    let reviewed: Value = match &server {
        Some(server) => {
            server
                .post(
                    &format!("/v1/plans/{}/versions/{version}/{verdict}", segment(key)),
                    &json!({"comment": comment}),
                )
                .await?
        }
        None => serde_json::to_value(
            locally(config, async |state| {
                silta_server::review_plan(state, key, version, approve, comment.as_deref(), actor)
            })
            .await?,
        )?,
    };
    println!("{}", serde_json::to_string(&reviewed)?);
    Ok(())
}

pub async fn run_quarantine(config: Config, command: QuarantineCommand) -> anyhow::Result<()> {
    let server = client::running_server(&config.data)?;
    match command {
        QuarantineCommand::List {
            source,
            since,
            replayable,
            limit,
        } => {
            let request = QuarantineQuery {
                source,
                since,
                replayable,
                limit: Some(limit),
            };
            let entries: Value = match &server {
                Some(server) => {
                    let mut path = format!("/v1/quarantine?limit={limit}&replayable={replayable}");
                    for (name, value) in [("source", &request.source), ("since", &request.since)] {
                        if let Some(value) = value {
                            path.push_str(&format!("&{name}={}", segment(value)));
                        }
                    }
                    server.get(&path).await?
                }
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::list_quarantine(state, &request).await
                    })
                    .await?,
                )?,
            };
            print_lines(&entries)?;
        }
        QuarantineCommand::Show { record } => {
            let entry: Value = match &server {
                Some(server) => server.get(&format!("/v1/quarantine/{record}")).await?,
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::quarantine_record(state, record).await
                    })
                    .await?,
                )?,
            };
            println!("{}", serde_json::to_string_pretty(&entry)?);
        }
        QuarantineCommand::Replay { records, source } => {
            let request = ReplayRequest { records, source };
            let outcome: Value = match &server {
                Some(server) => server.post("/v1/quarantine/replay", &request).await?,
                None => serde_json::to_value(
                    locally(config, async |state| {
                        silta_server::replay_quarantine(state, &request, &Actor::local()).await
                    })
                    .await?,
                )?,
            };
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        }
    }
    Ok(())
}

pub async fn run_violations(config: Config, args: ViolationsArgs) -> anyhow::Result<()> {
    let target = client::open(&config.data)?;
    let request = ViolationsQuery {
        source: args.source,
        plan: args.plan,
        since: Some(args.since),
        format: silta_server::Format::Json,
    };
    match target {
        Target::Server(server) => {
            let mut path = format!(
                "/v1/violations?since={}&format={}",
                segment(request.since.as_deref().unwrap_or("30d")),
                if args.csv { "csv" } else { "json" }
            );
            for (name, value) in [("source", &request.source), ("plan", &request.plan)] {
                if let Some(value) = value {
                    path.push_str(&format!("&{name}={}", segment(value)));
                }
            }
            let answer = server.get_text(&path).await?;
            if args.csv {
                print!("{answer}");
            } else {
                print_lines(&serde_json::from_str(&answer)?)?;
            }
        }
        Target::Local(state) => {
            drop(state);
            let counts = locally(config, async |state| {
                silta_server::count_violations(state, &request).await
            })
            .await?;
            if args.csv {
                print!(
                    "{}",
                    silta_server::csv_text(&counts)
                        .map_err(|error| anyhow::anyhow!(error.message))?
                );
            } else {
                print_lines(&serde_json::to_value(counts)?)?;
            }
        }
    }
    Ok(())
}
