//! `silta media-mix` as a user runs it: spend loaded and a model fitted on the data directory
//! without a server, a budget plan and scenarios through a running server, the model deleted
//! offline again.

mod common;

use chrono::NaiveDate;
use common::{cli_output, start_server};
use serde_json::{Value, json};

const DAYS: i64 = 120;
const CHANNELS: [&str; 2] = ["search", "tv"];

/// Spend that varies day by day and revenue that answers it with diminishing returns.
fn spend_and_kpi() -> (String, String) {
    let first = NaiveDate::from_ymd_opt(2026, 1, 5).expect("a Monday");
    let mut spend = String::from("date,channel,spend\n");
    let mut kpi = String::from("date,value\n");
    for day in 0..DAYS {
        let date = first + chrono::Duration::days(day);
        let mut revenue = 4_000.0;
        for (channel, name) in CHANNELS.iter().enumerate() {
            let wave = ((day as f64) * (0.13 + 0.09 * channel as f64)).sin();
            let amount = (800.0 * (channel + 1) as f64 * (1.0 + 0.6 * wave)).round();
            spend.push_str(&format!("{date},{name},{amount}\n"));
            revenue += 2_500.0 * amount / (amount + 900.0 * (channel + 1) as f64);
        }
        kpi.push_str(&format!("{date},{revenue:.2}\n"));
    }
    (spend, kpi)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

#[tokio::test]
async fn a_model_is_fitted_offline_and_planned_through_the_server() {
    let data = tempfile::tempdir().expect("tempdir");
    let (spend, kpi) = spend_and_kpi();
    let file = |name: &str, text: &str| {
        let path = data.path().join(name);
        std::fs::write(&path, text).expect("writes");
        path.to_str().expect("utf-8 path").to_string()
    };
    let spend_file = file("spend.csv", &spend);
    let kpi_file = file("kpi.csv", &kpi);
    let request = file(
        "fit.json",
        &json!({
            "name": "winter", "granularity": "day",
            "kpi": {"source": "events", "event": "Order Completed"},
            "model": {"holdout_periods": 14},
            "sampler": {"chains": 2, "tune": 100, "draws": 100, "seed": 5},
        })
        .to_string(),
    );
    cli_output(data.path(), &["spend", "load", &spend_file]);
    let model = json_of(&cli_output(
        data.path(),
        &["media-mix", "fit", &request, "--kpi-csv", &kpi_file],
    ));
    assert_eq!(model["status"], "ready", "{}", model["error"]);
    assert_eq!(model["periods"], DAYS);
    assert_eq!(model["channels"], json!(CHANNELS));
    let id = model["id"].as_str().expect("id").to_string();
    let listed = json_of(&cli_output(data.path(), &["media-mix", "list"]));
    assert_eq!(listed["id"], id.as_str());

    let mut server = start_server(data.path());
    let anonymous = reqwest::get(format!("{}/v1/media-mix/models", server.url))
        .await
        .expect("answered");
    assert_eq!(anonymous.status(), reqwest::StatusCode::UNAUTHORIZED);
    let budget = 28.0 * 2_400.0;
    let plan = json_of(&cli_output(
        data.path(),
        &[
            "media-mix",
            "optimise",
            &id,
            "--horizon",
            "28",
            "--budget",
            &budget.to_string(),
            "--scenarios",
            "100000",
        ],
    ));
    assert_eq!(plan["certificate"]["holds"], true, "{plan}");
    assert_eq!(plan["scenarios_evaluated"], 100_000);
    let spent: f64 = plan["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|channel| channel["recommended"].as_f64().expect("amount"))
        .sum();
    assert!(
        (spent - budget).abs() < 1e-6 * budget,
        "{spent} vs {budget}"
    );
    let comparison = json_of(&cli_output(
        data.path(),
        &["media-mix", "scenarios", &id, "--horizon", "28", "+20% tv"],
    ));
    assert_eq!(
        comparison["scenarios"][0]["plan"], "+20% tv",
        "{comparison}"
    );
    server.child.kill().expect("stop");
    server.child.wait().expect("reaped");

    cli_output(data.path(), &["media-mix", "delete", &id]);
    assert_eq!(cli_output(data.path(), &["media-mix", "list"]), "");
}
