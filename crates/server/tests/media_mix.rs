//! Media mix through the API: a model fitted in the background on the spend table and a KPI
//! from the event store, then budget plans and scenarios; spend read from ad-server events;
//! bad requests refused with reasons.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::NaiveDate;
use common::TestSilta;
use serde_json::{Value, json};

const DAYS: i64 = 140;
const CHANNELS: [&str; 3] = ["search", "social", "tv"];

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 2).expect("a Monday")
}

/// Spend that varies day by day, and revenue that answers it with carry-over and saturation.
fn spend_and_revenue() -> (String, Vec<(NaiveDate, f64)>) {
    let mut csv = String::from("date,channel,spend\n");
    let mut carried = [0.0; 3];
    let mut revenue = Vec::new();
    for day in 0..DAYS {
        let date = first_day() + chrono::Duration::days(day);
        let mut total = 5_000.0 + 300.0 * ((day % 7) as f64);
        for (channel, name) in CHANNELS.iter().enumerate() {
            let wave = ((day as f64) * (0.11 + 0.07 * channel as f64)).sin();
            let spend = (1_000.0 * (channel + 1) as f64 * (1.0 + 0.5 * wave)).round();
            csv.push_str(&format!("{date},{name},{spend}\n"));
            carried[channel] = spend + 0.4 * carried[channel];
            let adstock = 0.6 * carried[channel];
            total += 3_000.0 * adstock / (adstock + 1_200.0 * (channel + 1) as f64);
        }
        revenue.push((date, (total * 100.0).round() / 100.0));
    }
    (csv, revenue)
}

async fn load_spend(silta: &TestSilta, csv: String) {
    let request = Request::put("/v1/spend")
        .header("content-type", "text/csv")
        .header("authorization", format!("Bearer {}", silta.marketer_token))
        .body(Body::from(csv))
        .expect("request");
    let (status, _, loaded) = silta.send(request).await;
    assert_eq!(status, StatusCode::OK, "{loaded}");
}

/// Sends events through `/v1/batch` in batches the default limits accept.
async fn send_events(silta: &TestSilta, events: Vec<Value>) {
    for batch in events.chunks(400) {
        let (status, answer) = silta
            .post_json(
                "/v1/batch",
                json!({"batch": batch}).to_string(),
                Some(&silta.basic()),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

/// One order a day carrying the day's revenue, through the ingestion path.
async fn send_orders(silta: &TestSilta, revenue: &[(NaiveDate, f64)]) {
    let orders = revenue
        .iter()
        .enumerate()
        .map(|(day, (date, amount))| {
            json!({
                "type": "track", "event": "Order Completed", "userId": format!("buyer-{day}"),
                "timestamp": format!("{date}T12:00:00Z"),
                "properties": {"revenue": amount, "currency": "EUR"},
            })
        })
        .collect();
    send_events(silta, orders).await;
}

fn fit_request(name: &str) -> Value {
    json!({
        "name": name,
        "granularity": "day",
        "kpi": {"source": "events", "event": "Order Completed"},
        "model": {"holdout_periods": 14},
        "sampler": {"chains": 2, "tune": 150, "draws": 150, "seed": 3},
    })
}

async fn wait_until_ready(silta: &TestSilta, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, model) = silta
            .call(
                Method::GET,
                &format!("/v1/media-mix/models/{id}"),
                &silta.analyst_token,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{model}");
        if model["status"] != "fitting" {
            return model;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the fit takes too long"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_is_fitted_in_the_background_and_answers_plans_and_scenarios() {
    let silta = TestSilta::start().await;
    let (csv, revenue) = spend_and_revenue();
    load_spend(&silta, csv).await;
    send_orders(&silta, &revenue).await;

    let marketer = silta.marketer_token.clone();
    let (status, created) = silta
        .call(
            Method::POST,
            "/v1/media-mix/models",
            &marketer,
            fit_request("spring"),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["status"], "fitting");
    assert_eq!(created["periods"], DAYS);
    let id = created["id"].as_str().expect("id").to_string();
    let (status, busy) = silta
        .call(
            Method::POST,
            "/v1/media-mix/models",
            &marketer,
            fit_request("again"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one fit at a time: {busy}");

    let model = wait_until_ready(&silta, &id).await;
    assert_eq!(model["status"], "ready", "{}", model["error"]);
    let report = &model["report"];
    // The KPI is the revenue the orders carried, day by day.
    let kpi: Vec<f64> = serde_json::from_value(report["kpi"].clone()).expect("kpi");
    for (read, (_, sent)) in kpi.iter().zip(&revenue) {
        assert!((read - sent).abs() < 1e-6, "{read} vs {sent}");
    }
    let channels = report["channels"].as_array().expect("channels");
    assert_eq!(channels.len(), 3);
    for channel in channels {
        let roi = &channel["roi"];
        assert!(roi["lower"].as_f64() <= roi["mean"].as_f64(), "{roi}");
        assert!(roi["mean"].as_f64() <= roi["upper"].as_f64(), "{roi}");
    }
    assert!(
        report["fit"]["r_squared"].as_f64().expect("r squared") > 0.5,
        "{}",
        report["fit"]
    );
    assert!(report["fit"]["holdout_mape"].as_f64().is_some());

    let (status, listed) = silta
        .call(
            Method::GET,
            "/v1/media-mix/models",
            &silta.viewer_token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("report").is_none(), "lists leave reports out");

    let plans = format!("/v1/media-mix/models/{id}/plans");
    let plan =
        json!({"horizon_periods": 28, "goal": {"budget": 28.0 * 6_000.0}, "scenarios": 200_000});
    let (status, _) = silta
        .call(Method::POST, &plans, &silta.analyst_token, plan.clone())
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "analysts read models, they do not plan"
    );
    let (status, budget_plan) = silta.call(Method::POST, &plans, &marketer, plan).await;
    assert_eq!(status, StatusCode::OK, "{budget_plan}");
    assert_eq!(budget_plan["certificate"]["holds"], true, "{budget_plan}");
    let spent: f64 = budget_plan["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|channel| channel["recommended"].as_f64().expect("recommended"))
        .sum();
    assert!((spent - 28.0 * 6_000.0).abs() < 1.0, "{spent}");

    let (status, comparison) = silta
        .call(
            Method::POST,
            &format!("/v1/media-mix/models/{id}/scenarios"),
            &marketer,
            json!({"horizon_periods": 28, "plans": ["+20% tv, search -10%", "social = 50000"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{comparison}");
    assert_eq!(comparison["scenarios"].as_array().map(Vec::len), Some(2));
    let (status, refused) = silta
        .call(
            Method::POST,
            &format!("/v1/media-mix/models/{id}/scenarios"),
            &marketer,
            json!({"horizon_periods": 28, "plans": ["+20% radio"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");

    let path = format!("/v1/media-mix/models/{id}");
    let (status, _) = silta
        .call(Method::DELETE, &path, &marketer, Value::Null)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = silta.call(Method::GET, &path, &marketer, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_are_refused_with_their_reasons_before_any_fit() {
    let silta = TestSilta::start().await;
    let marketer = silta.marketer_token.clone();
    let post = |body: Value| silta.call(Method::POST, "/v1/media-mix/models", &marketer, body);

    let (status, answer) = post(fit_request("no spend")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"]
            .as_str()
            .expect("message")
            .contains("PUT /v1/spend"),
        "{answer}"
    );

    let (csv, revenue) = spend_and_revenue();
    load_spend(&silta, csv).await;
    let mut kpi_csv = String::from("date,value\n");
    for (date, amount) in &revenue {
        kpi_csv.push_str(&format!("{date},{amount}\n"));
    }
    let with = |change: &dyn Fn(&mut Value)| {
        let mut request = fit_request("bad");
        request["kpi"] = json!({"source": "csv", "csv": kpi_csv});
        change(&mut request);
        request
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|request| {
                request["kpi"]["csv"] = json!("date,value\n2026-03-02,1\n2026-03-03,lots\n")
            }),
            "line 3",
        ),
        (
            with(&|request| {
                request["controls_csv"] = json!("date,control,value\n2026-03-02,price,1\n")
            }),
            "control \"price\" has no value",
        ),
        (
            with(&|request| request["sampler"]["chains"] = json!(1)),
            "chains",
        ),
        (
            with(&|request| request["granularity"] = json!("week")),
            "fewer than",
        ),
        (
            with(&|request| request["model"]["holdout_periods"] = json!(200)),
            "holdout",
        ),
        (
            with(&|request| {
                request["model"]["roi_priors"] = json!({"radio": {"mean": 1, "sd": 1}})
            }),
            "radio",
        ),
        (with(&|request| request["name"] = json!("")), "name"),
        (
            with(&|request| request["spend"] = json!({"source": "events", "events": []})),
            "1 to 20 events",
        ),
        (
            with(&|request| {
                request["spend"] =
                    json!({"source": "events", "events": ["Ad Impression"], "cost_property": ""})
            }),
            "1 to 200 characters",
        ),
        (
            with(&|request| {
                request["model"]["adstock"] = json!({"kind": "weibull", "max_lag": 1000})
            }),
            "max_lag",
        ),
    ];
    for (request, expected) in cases {
        let (status, answer) = post(request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let message = answer["message"].as_str().expect("message");
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let (status, _) = post(json!({"name": "x", "kpi": {"source": "sql", "query": "drop"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    for id in ["unknown", "..%2Fstate", "0123456789abcdef0123456789abcdef"] {
        let (status, _) = silta
            .call(
                Method::GET,
                &format!("/v1/media-mix/models/{id}"),
                &marketer,
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
        let (status, _) = silta
            .call(
                Method::POST,
                &format!("/v1/media-mix/models/{id}/plans"),
                &marketer,
                json!({"horizon_periods": 4, "goal": {"budget": 1000}}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
}

/// An ad server reporting its cost on impressions: two impressions a day per channel share the
/// day's spend; clicks without a cost and events of other names do not count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_is_read_from_the_cost_of_ad_server_events() {
    let silta = TestSilta::start().await;
    let (csv, revenue) = spend_and_revenue();
    let mut events = Vec::new();
    let mut fitted_spend = [0.0; 3];
    let holdout = 14;
    for line in csv.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (date, channel, spend) = (fields[0], fields[1], fields[2]);
        let spend: f64 = spend.parse().expect("spend");
        let day =
            (NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date") - first_day()).num_days();
        if day < DAYS - holdout {
            let index = CHANNELS
                .iter()
                .position(|name| *name == channel)
                .expect("known");
            fitted_spend[index] += spend;
        }
        for (event, cost) in [
            ("Ad Impression", json!(spend / 2.0)),
            ("Ad Impression", json!(spend / 2.0)),
            ("Ad Clicked", Value::Null),
            ("Ad Served", json!(1_000_000.0)),
        ] {
            events.push(json!({
                "type": "track", "event": event, "anonymousId": format!("viewer-{day}"),
                "timestamp": format!("{date}T09:00:00Z"),
                "properties": {"channel": channel, "cost": cost},
            }));
        }
    }
    // An ad server sends more from one address than the bot rules allow a browser, so some of
    // its events may be flagged; they count as spend all the same.
    send_orders(&silta, &revenue).await;
    send_events(&silta, events).await;

    let mut request = fit_request("from the ad server");
    request["spend"] = json!({"source": "events", "events": ["Ad Impression", "Ad Clicked"]});
    request["sampler"] = json!({"chains": 2, "tune": 100, "draws": 100, "seed": 1});
    let (status, created) = silta
        .call(
            Method::POST,
            "/v1/media-mix/models",
            &silta.marketer_token,
            request,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    assert_eq!(created["periods"], DAYS);
    let id = created["id"].as_str().expect("id");
    let model = wait_until_ready(&silta, id).await;
    assert_eq!(model["status"], "ready", "{}", model["error"]);
    let channels = model["report"]["channels"].as_array().expect("channels");
    let names: Vec<&str> = channels
        .iter()
        .map(|channel| channel["channel"].as_str().expect("name"))
        .collect();
    assert_eq!(names, CHANNELS);
    for (channel, expected) in channels.iter().zip(fitted_spend) {
        let read = channel["spend"].as_f64().expect("spend");
        assert!((read - expected).abs() < 1e-6, "{read} vs {expected}");
    }
}
