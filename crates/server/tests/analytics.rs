//! Funnels, retention, web analytics, attribution and audiences over generated events, each
//! checked against a brute-force computation over the same events in plain Rust. People use
//! several devices and log in on some of them, so that counting people needs the merged
//! profiles; some steps fall exactly on window boundaries.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use common::TestSilta;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

const STEPS: [&str; 4] = [
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
];
const PATHS: [&str; 5] = ["/", "/shoes", "/shirts", "/cart", "/checkout"];
const REFERRERS: [Option<&str>; 3] = [
    None,
    Some("https://www.google.com/search"),
    Some("https://news.example/article"),
];
const SOURCES: [&str; 4] = ["google", "facebook", "newsletter", "tiktok"];
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

#[derive(Debug, Clone)]
enum Kind {
    Step {
        index: usize,
        revenue: f64,
    },
    Page {
        path: &'static str,
        referrer: Option<&'static str>,
        agent: &'static str,
    },
    Touch {
        source: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Happening {
    person: usize,
    device: usize,
    at: DateTime<Utc>,
    kind: Kind,
}

struct World {
    start: DateTime<Utc>,
    known: Vec<bool>,
    devices: Vec<usize>,
    happenings: Vec<Happening>,
}

fn anonymous_id(person: usize, device: usize) -> String {
    format!("device-{person}-{device}")
}

/// 300 people over 40 days, each on one to three devices; two thirds log in on every device.
fn generate() -> World {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = Utc
        .with_ymd_and_hms(2026, 9, 1, 0, 0, 0)
        .single()
        .expect("date");
    let people = 300;
    let mut world = World {
        start,
        known: Vec::new(),
        devices: Vec::new(),
        happenings: Vec::new(),
    };
    for person in 0..people {
        world.known.push(rng.random_bool(0.66));
        let devices = rng.random_range(1..=3);
        world.devices.push(devices);
        let mut at = start + Duration::minutes(rng.random_range(0..40 * 24 * 60));
        let mut next_step = 0;
        for _ in 0..rng.random_range(3..25) {
            let device = rng.random_range(0..devices);
            let kind = match rng.random_range(0..10) {
                0..=3 => Kind::Page {
                    path: PATHS[rng.random_range(0..PATHS.len())],
                    referrer: REFERRERS[rng.random_range(0..REFERRERS.len())],
                    agent: if device == 0 { CHROME } else { IPHONE },
                },
                4 => Kind::Touch {
                    source: SOURCES[rng.random_range(0..SOURCES.len())],
                },
                _ => {
                    // Mostly the next step of the shop's funnel, sometimes any step.
                    let index = if rng.random_bool(0.7) {
                        next_step
                    } else {
                        rng.random_range(0..STEPS.len())
                    };
                    next_step = (index + 1) % STEPS.len();
                    let revenue = if index == 3 {
                        rng.random_range(10..200) as f64
                    } else {
                        0.0
                    };
                    Kind::Step { index, revenue }
                }
            };
            world.happenings.push(Happening {
                person,
                device,
                at,
                kind,
            });
            // Gaps from seconds to days; some land exactly on an hour boundary.
            let gap = match rng.random_range(0..4) {
                0 => Duration::seconds(rng.random_range(5..600)),
                1 => Duration::minutes(rng.random_range(10..120)),
                2 => Duration::hours(rng.random_range(1..48)),
                _ => Duration::hours(24),
            };
            at += gap;
        }
    }
    world
}

impl World {
    fn events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        for person in 0..self.known.len() {
            if !self.known[person] {
                continue;
            }
            for device in 0..self.devices[person] {
                events.push(json!({
                    "type": "identify", "anonymousId": anonymous_id(person, device),
                    "userId": format!("user-{person}"),
                    "timestamp": (self.start - Duration::days(30)).to_rfc3339(),
                }));
            }
        }
        for (number, happening) in self.happenings.iter().enumerate() {
            let anonymous = anonymous_id(happening.person, happening.device);
            let timestamp = happening.at.to_rfc3339();
            let message_id = format!("m-{number}");
            events.push(match &happening.kind {
                Kind::Step { index, revenue } => json!({
                    "type": "track", "event": STEPS[*index], "anonymousId": anonymous,
                    "timestamp": timestamp, "messageId": message_id,
                    "properties": {"revenue": revenue, "step": index},
                }),
                Kind::Page {
                    path,
                    referrer,
                    agent,
                } => json!({
                    "type": "page", "anonymousId": anonymous, "timestamp": timestamp,
                    "messageId": message_id,
                    "properties": {"url": format!("https://shop.example{path}"), "path": path,
                                   "referrer": referrer},
                    "context": {"userAgent": agent},
                }),
                Kind::Touch { source } => json!({
                    "type": "track", "event": "Ad Clicked", "anonymousId": anonymous,
                    "timestamp": timestamp, "messageId": message_id,
                    "context": {"campaign": {"source": source, "medium": "cpc", "name": "autumn"}},
                }),
            });
        }
        events
    }

    /// Each person's happenings in time order.
    fn by_person(&self) -> Vec<Vec<&Happening>> {
        let mut people: Vec<Vec<&Happening>> = vec![Vec::new(); self.known.len()];
        for happening in &self.happenings {
            people[happening.person].push(happening);
        }
        for list in &mut people {
            list.sort_by_key(|happening| happening.at);
        }
        people
    }

    /// A person as the profiles see them: merged when known, one per device otherwise.
    fn profiles(&self) -> Vec<Vec<&Happening>> {
        let mut profiles = Vec::new();
        for list in self.by_person() {
            let person = list.first().map(|happening| happening.person);
            match person {
                Some(person) if !self.known[person] => {
                    for device in 0..self.devices[person] {
                        let on_device: Vec<&Happening> = list
                            .iter()
                            .copied()
                            .filter(|h| h.device == device)
                            .collect();
                        if !on_device.is_empty() {
                            profiles.push(on_device);
                        }
                    }
                }
                _ => profiles.push(list),
            }
        }
        profiles
    }
}

/// The events arrive as a server-side import: all from one address, which live bot
/// detection accepts from server sources only.
/// The body of an answer as text (CSV, for example).
async fn text(silta: &TestSilta, request: axum::http::Request<axum::body::Body>) -> String {
    use tower::ServiceExt;
    let mut request = request;
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            1,
        ))));
    let response = silta.router.clone().oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

async fn loaded() -> (TestSilta, World) {
    let silta = TestSilta::start().await;
    let import_key = silta
        .silta
        .state
        .credentials
        .add_source(
            "Import",
            silta_model::Channel::Server,
            &silta_state::Actor::System,
        )
        .expect("source")
        .secret;
    let world = generate();
    for chunk in world.events().chunks(200) {
        let body = json!({"writeKey": import_key, "batch": chunk});
        let (status, answer) = silta.post_json("/v1/batch", body.to_string(), None).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    (silta, world)
}

fn step_of(happening: &Happening) -> Option<usize> {
    match happening.kind {
        Kind::Step { index, .. } => Some(index),
        _ => None,
    }
}

/// The furthest step any chain reached: a chain starts at a first step in `[from, to)`, each
/// next step is a later event at most `window` after the start.
fn furthest_step(
    events: &[&Happening],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    window: Duration,
) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (start_index, start) in events.iter().enumerate() {
        if step_of(start) != Some(0) || start.at < from || start.at >= to {
            continue;
        }
        let mut reached = 0;
        for later in &events[start_index + 1..] {
            if later.at - start.at > window {
                break;
            }
            if step_of(later) == Some(reached + 1) {
                reached += 1;
                if reached == STEPS.len() - 1 {
                    break;
                }
            }
        }
        best = Some(best.map_or(reached, |so_far: usize| so_far.max(reached)));
    }
    best
}

fn midnight(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 0, 0, 0)
        .single()
        .expect("date")
}

/// Checks one period of a web analytics answer against sessions cut by hand from the
/// pageviews in `[from, to)`.
fn check_web_period(
    answer: &Value,
    profiles: &[Vec<&Happening>],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) {
    let (mut visitors, mut sessions, mut pageviews, mut bounces) = (0_u64, 0_u64, 0_u64, 0_u64);
    let mut entries: HashMap<&str, u64> = HashMap::new();
    let mut referrers: HashMap<&str, u64> = HashMap::new();
    for events in profiles {
        let views: Vec<&Happening> = events
            .iter()
            .copied()
            .filter(|h| matches!(h.kind, Kind::Page { .. }))
            .filter(|h| h.at >= from && h.at < to)
            .collect();
        if views.is_empty() {
            continue;
        }
        visitors += 1;
        pageviews += views.len() as u64;
        for session in views.chunk_by(|a, b| b.at - a.at <= Duration::minutes(30)) {
            sessions += 1;
            bounces += u64::from(session.len() == 1);
            if let Kind::Page { path, referrer, .. } = session[0].kind {
                *entries.entry(path).or_default() += 1;
                let host = match referrer {
                    Some(url) if url.contains("google") => "google.com",
                    Some(_) => "news.example",
                    None => "Direct / None",
                };
                *referrers.entry(host).or_default() += 1;
            }
        }
    }
    assert!(pageviews > 100, "the period has data: {pageviews}");
    let summary = &answer["summary"];
    assert_eq!(summary["visitors"], visitors, "{summary}");
    assert_eq!(summary["sessions"], sessions, "{summary}");
    assert_eq!(summary["pageviews"], pageviews, "{summary}");
    let bounce_rate = summary["bounce_rate"].as_f64().expect("rate");
    assert!((bounce_rate - bounces as f64 / sessions as f64).abs() < 1e-9);
    for row in answer["entry_pages"].as_array().expect("entries") {
        let path = row["value"].as_str().expect("path");
        assert_eq!(row["count"].as_u64(), entries.get(path).copied(), "{row}");
    }
    for row in answer["referrers"].as_array().expect("referrers") {
        let host = row["value"].as_str().expect("host");
        assert_eq!(row["count"].as_u64(), referrers.get(host).copied(), "{row}");
    }
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

#[tokio::test]
async fn analyses_agree_with_brute_force_over_the_same_events() {
    let (silta, world) = loaded().await;
    let token = silta.viewer_token.clone();
    let profiles = world.profiles();

    // Funnel, 2-day window, first steps from 2026-09-05 to 2026-09-30 (UTC).
    let request = json!({
        "steps": STEPS.iter().map(|name| json!({"event": name})).collect::<Vec<_>>(),
        "window_hours": 48, "from": "2026-09-05", "to": "2026-09-30", "explain": true,
    });
    let (status, funnel) = silta
        .call(Method::POST, "/v1/analytics/funnel", &token, request)
        .await;
    assert_eq!(status, StatusCode::OK, "{funnel}");
    let range = (midnight(2026, 9, 5), midnight(2026, 10, 1));
    let mut expected = [0_u64; 4];
    for events in &profiles {
        if let Some(furthest) = furthest_step(events, range, Duration::hours(48)) {
            for count in expected.iter_mut().take(furthest + 1) {
                *count += 1;
            }
        }
    }
    let people: Vec<u64> = funnel["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| step["people"].as_u64().expect("people"))
        .collect();
    assert_eq!(people, expected.to_vec(), "{funnel}");
    assert!(
        expected[0] > 50 && expected[3] > 5,
        "the data exercises the funnel: {expected:?}"
    );
    let sql = funnel["explain"]["sql"][0].as_str().expect("sql");
    assert!(
        sql.contains("profile_index") && sql.contains("Product Viewed"),
        "{sql}"
    );

    // The same funnel as CSV: a header and one line per step.
    let csv = text(
        &silta,
        axum::http::Request::post("/v1/analytics/funnel?format=csv")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(
                json!({"steps": STEPS.iter().map(|name| json!({"event": name})).collect::<Vec<_>>(),
                       "window_hours": 48, "from": "2026-09-05", "to": "2026-09-30"})
                .to_string(),
            ))
            .expect("request"),
    )
    .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + STEPS.len(), "{csv}");
    assert!(lines[0].starts_with("breakdown,step,event,people"), "{csv}");
    assert!(
        lines[4].starts_with(&format!(",4,Order Completed,{}", expected[3])),
        "{csv}"
    );

    // Retention by week in Berlin time: cohort by first page view, return by any order.
    let berlin: Tz = "Europe/Berlin".parse().expect("zone");
    let request = json!({
        "cohort_event": {"event": "Product Viewed"}, "return_event": {"event": "Order Completed"},
        "period": "week", "periods": 4, "from": "2026-08-31", "to": "2026-09-21",
        "time_zone": "Europe/Berlin",
    });
    let (status, retention) = silta
        .call(Method::POST, "/v1/analytics/retention", &token, request)
        .await;
    assert_eq!(status, StatusCode::OK, "{retention}");
    let week_of = |at: DateTime<Utc>| {
        let local = at.with_timezone(&berlin).date_naive();
        (local - date("2026-08-31")).num_days().div_euclid(7)
    };
    let mut triangle: BTreeMap<i64, (u64, [u64; 4])> = BTreeMap::new();
    for events in &profiles {
        let Some(first) = events.iter().find(|h| step_of(h) == Some(0)) else {
            continue;
        };
        let cohort = week_of(first.at);
        if !(0..4).contains(&cohort) {
            continue;
        }
        let row = triangle.entry(cohort).or_default();
        row.0 += 1;
        row.1[0] += 1;
        let returned: BTreeSet<i64> = events
            .iter()
            .filter(|h| step_of(h) == Some(3))
            .map(|h| week_of(h.at) - cohort)
            .filter(|offset| (1..4).contains(offset))
            .collect();
        for offset in returned {
            row.1[offset as usize] += 1;
        }
    }
    let cohorts = retention["cohorts"].as_array().expect("cohorts");
    assert_eq!(cohorts.len(), 4);
    for (index, cohort) in cohorts.iter().enumerate() {
        let (size, returned) = triangle.get(&(index as i64)).copied().unwrap_or_default();
        assert_eq!(cohort["people"].as_u64(), Some(size), "{cohort}");
        let got: Vec<u64> = cohort["returned"]
            .as_array()
            .expect("returned")
            .iter()
            .map(|value| value.as_u64().expect("count"))
            .collect();
        assert_eq!(got, returned.to_vec(), "cohort {index}: {cohort}");
    }

    // Web analytics from mid-September to mid-October, against the 30 days before.
    let (status, web) = silta
        .call(
            Method::GET,
            "/v1/analytics/web?from=2026-09-16&to=2026-10-15&top=50",
            &token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{web}");
    check_web_period(
        &web,
        &profiles,
        (midnight(2026, 9, 16), midnight(2026, 10, 16)),
    );
    check_web_period(
        &web["previous"],
        &profiles,
        (midnight(2026, 8, 17), midnight(2026, 9, 16)),
    );
    let devices: Vec<&str> = web["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|row| row["value"].as_str())
        .collect();
    assert!(
        devices.contains(&"Desktop") && devices.contains(&"Mobile"),
        "{devices:?}"
    );
    let september = (midnight(2026, 9, 1), midnight(2026, 10, 1));

    // Spend for two of the sources, one day outside the range that must not count.
    let spend = "date,channel,campaign,spend,clicks\n2026-09-03,google,autumn,300,12\n\
                 2026-09-20,google,autumn,200.5,9\n2026-10-02,google,autumn,999,1\n\
                 2026-09-05,tiktok,,50,\n";
    let upload = |token: &str| {
        axum::http::Request::put("/v1/spend")
            .header("content-type", "text/csv")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(spend))
            .expect("request")
    };
    let (status, _, _) = silta.send(upload(&token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers do not load spend");
    let (status, _, loaded) = silta.send(upload(&silta.marketer_token)).await;
    assert_eq!(status, StatusCode::OK, "{loaded}");
    assert_eq!(loaded["rows"], 4);
    assert_eq!(loaded["channels"], 2);

    // Attribution in September with a 7-day lookback: last touch and linear by brute force.
    let request = json!({
        "conversion": {"event": "Order Completed"}, "touch": "utm_source",
        "lookback_days": 7, "from": "2026-09-01", "to": "2026-09-30",
        "models": ["last_touch", "linear", "data_driven"],
    });
    let (status, attribution) = silta
        .call(Method::POST, "/v1/analytics/attribution", &token, request)
        .await;
    assert_eq!(status, StatusCode::OK, "{attribution}");
    let mut last_touch: HashMap<&str, f64> = HashMap::new();
    let mut linear: HashMap<&str, f64> = HashMap::new();
    let (mut conversions, mut unattributed) = (0, 0);
    for events in &profiles {
        for conversion in events.iter().filter(|h| step_of(h) == Some(3)) {
            if conversion.at < september.0 || conversion.at >= september.1 {
                continue;
            }
            conversions += 1;
            let touches: Vec<&str> = events
                .iter()
                .filter(|h| h.at <= conversion.at && conversion.at - h.at <= Duration::days(7))
                .filter_map(|h| match h.kind {
                    Kind::Touch { source } => Some(source),
                    _ => None,
                })
                .collect();
            let Some(last) = touches.last() else {
                unattributed += 1;
                continue;
            };
            *last_touch.entry(last).or_default() += 1.0;
            for touch in &touches {
                *linear.entry(touch).or_default() += 1.0 / touches.len() as f64;
            }
        }
    }
    assert_eq!(attribution["conversions"], conversions, "{attribution}");
    assert_eq!(attribution["unattributed_conversions"], unattributed);
    for (model, expected) in [("last_touch", &last_touch), ("linear", &linear)] {
        let credits = attribution["models"]
            .as_array()
            .expect("models")
            .iter()
            .find(|entry| entry["model"] == model)
            .expect("model")["credits"]
            .as_array()
            .expect("credits")
            .clone();
        assert_eq!(credits.len(), expected.len(), "{model}: {credits:?}");
        for credit in credits {
            let key = credit["key"].as_str().expect("key");
            let got = credit["conversions"].as_f64().expect("conversions");
            assert!(
                (got - expected[key]).abs() < 1e-9,
                "{model} {key}: {got} vs {}",
                expected[key]
            );
        }
    }
    let google = attribution["models"][0]["credits"]
        .as_array()
        .expect("credits")
        .iter()
        .find(|credit| credit["key"] == "google")
        .expect("google")
        .clone();
    assert_eq!(google["spend"], 500.5, "{google}");
    let cost = google["cost_per_acquisition"].as_f64().expect("cost");
    assert!(
        (cost - 500.5 / last_touch["google"]).abs() < 1e-9,
        "{google}"
    );
    let return_on_spend = google["return_on_ad_spend"].as_f64().expect("roas");
    let revenue = google["revenue"].as_f64().expect("revenue");
    assert!((return_on_spend - revenue / 500.5).abs() < 1e-9);
    let data_driven: f64 = attribution["models"][2]["credits"]
        .as_array()
        .expect("credits")
        .iter()
        .map(|credit| credit["conversions"].as_f64().expect("conversions"))
        .sum();
    assert!((data_driven - (conversions - unattributed) as f64).abs() < 1e-6);
}

#[tokio::test]
async fn empty_ranges_and_bad_definitions_answer_clearly() {
    let silta = TestSilta::start().await;
    let token = silta.analyst_token.clone();
    let request = json!({"steps": [{"event": "A"}, {"event": "B"}], "from": "2026-01-01", "to": "2026-01-31"});
    let (status, funnel) = silta
        .call(Method::POST, "/v1/analytics/funnel", &token, request)
        .await;
    assert_eq!(status, StatusCode::OK, "{funnel}");
    assert_eq!(funnel["steps"][0]["people"], 0);
    assert_eq!(funnel["steps"][1]["conversion"], 0.0);
    for (path, body) in [
        (
            "/v1/analytics/funnel",
            json!({"steps": [{"event": "A"}], "from": "2026-01-01", "to": "2026-01-31"}),
        ),
        (
            "/v1/analytics/funnel",
            json!({"steps": [{"event": "A"}, {"event": "B", "filters": [{"field": "password", "op": "eq", "value": 1}]}], "from": "2026-01-01", "to": "2026-01-31"}),
        ),
        (
            "/v1/analytics/funnel",
            json!({"steps": [{"event": "A"}, {"event": "B"}], "from": "2026-02-01", "to": "2026-01-31"}),
        ),
        (
            "/v1/analytics/funnel",
            json!({"steps": [{"event": "A", "filters": [{"field": "revenue", "op": "gt", "value": "lots"}]}, {"event": "B"}], "from": "2026-01-01", "to": "2026-01-31"}),
        ),
        (
            "/v1/analytics/retention",
            json!({"cohort_event": {"event": "A"}, "return_event": {"event": "A"}, "periods": 0, "from": "2026-01-01", "to": "2026-01-31"}),
        ),
        (
            "/v1/analytics/retention",
            json!({"cohort_event": {"event": "A"}, "return_event": {"event": "A"}, "from": "2026-01-01", "to": "2026-01-31", "time_zone": "Mars/Olympus"}),
        ),
        (
            "/v1/analytics/attribution",
            json!({"conversion": {"event": "A"}, "lookback_days": 0, "from": "2026-01-01", "to": "2026-01-31"}),
        ),
    ] {
        let (status, answer) = silta.call(Method::POST, path, &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty())
        );
    }
    let (status, web) = silta
        .call(
            Method::GET,
            "/v1/analytics/web?from=2026-01-01&to=2026-01-31",
            &token,
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{web}");
    assert_eq!(web["summary"]["visitors"], 0);
}
