use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use silta_server::Config;
use silta_store::{JsonAnswer, QueryLimits};

use crate::client::{self, Target};

#[derive(Args)]
pub struct SqlArgs {
    /// One read-only SQL statement, e.g. "SELECT channel, count(*) FROM events GROUP BY 1".
    pub sql: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[arg(long, default_value_t = 10_000)]
    pub max_rows: usize,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub async fn run(config: Config, args: SqlArgs) -> anyhow::Result<()> {
    let result = match client::open(&config.data)? {
        Target::Server(server) => {
            server
                .post(
                    "/v1/query",
                    &json!({"sql": args.sql, "max_rows": args.max_rows}),
                )
                .await?
        }
        Target::Local(state) => {
            // Hold the state database so that no server starts on this directory meanwhile.
            let _state = state;
            query_data_dir(&config, &args).await?
        }
    };
    print_result(&result, args.format);
    if result.truncated {
        eprintln!("(result cut at {} rows)", args.max_rows);
    }
    Ok(())
}

/// Queries the tables plus whatever the WAL holds that is not committed yet (after a crash).
async fn query_data_dir(config: &Config, args: &SqlArgs) -> anyhow::Result<JsonAnswer> {
    let (store, _identity, _) = silta_server::open_offline(config).await?;
    let limits = QueryLimits {
        max_rows: args.max_rows,
        ..QueryLimits::default()
    };
    Ok(store.query_json(&args.sql, &limits).await?)
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

fn print_result(result: &JsonAnswer, format: Format) {
    if let Format::Json = format {
        for row in &result.rows {
            println!("{row}");
        }
        return;
    }
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            result
                .columns
                .iter()
                .map(|column| cell(row.get(column)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = result
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            cells
                .iter()
                .map(|row| row[index].chars().count())
                .chain([column.chars().count()])
                .max()
                .unwrap_or(0)
                .min(60)
        })
        .collect();
    let line = |values: &[String]| {
        values
            .iter()
            .zip(&widths)
            .map(|(value, width)| {
                let shown: String = value.chars().take(*width).collect();
                format!("{shown:<width$}")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!("{}", line(&result.columns));
    println!(
        "{}",
        widths
            .iter()
            .map(|width| "-".repeat(*width))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for row in &cells {
        println!("{}", line(row));
    }
    eprintln!("({} rows)", cells.len());
}
