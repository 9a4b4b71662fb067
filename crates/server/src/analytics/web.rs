//! `GET /v1/analytics/web`: visitors, sessions, bounce rate, visit duration, pages, referrers,
//! campaigns, devices and browsers over a date range, beside the period just before it.

use std::collections::HashMap;

use arrow::array::{Array, StringArray};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionContext, col, lit};
use serde::{Deserialize, Serialize};
use silta_analytics::web::{DayCount, Dimension, PageView, Summary, WebCounter, WebReport};
use silta_state::Permission;

use super::expressions::{not_bot, person, time_range};
use super::scan::{self, DateRange, Explain, Interner};
use crate::output::{Format, Tabular, respond};
use crate::{ApiError, AppState, auth, query};

const MAX_TOP: usize = 1_000;
const DIRECT: &str = "Direct / None";
const NONE: &str = "(none)";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Also report the period of the same length just before.
    #[serde(default = "default_true")]
    pub compare: bool,
    /// Rows per breakdown.
    #[serde(default = "default_top")]
    pub top: usize,
    /// Inactivity after which the next pageview starts a new session.
    #[serde(default = "default_session_gap")]
    pub session_gap_minutes: u32,
    #[serde(default)]
    pub explain: bool,
    #[serde(default)]
    pub format: Format,
}

fn default_true() -> bool {
    true
}

fn default_top() -> usize {
    20
}

fn default_session_gap() -> u32 {
    30
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub value: String,
    pub visitors: u64,
    /// Pageviews for pages, sessions for entry and exit pages and the other breakdowns.
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub counts: DayCount,
}

#[derive(Debug, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub summary: Summary,
    pub daily: Vec<Day>,
    pub pages: Vec<Row>,
    pub entry_pages: Vec<Row>,
    pub exit_pages: Vec<Row>,
    pub referrers: Vec<Row>,
    pub utm_sources: Vec<Row>,
    pub utm_mediums: Vec<Row>,
    pub utm_campaigns: Vec<Row>,
    pub devices: Vec<Row>,
    pub browsers: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub struct WebResponse {
    #[serde(flatten)]
    pub current: Period,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Period>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Result<Query<WebRequest>, QueryRejection>,
) -> Result<Response, ApiError> {
    auth::require(&state, &headers, Permission::Analytics)?;
    let Query(request) = request?;
    query::read_your_writes(&state).await;
    respond(web(&state, &request).await?, request.format)
}

impl Period {
    fn tables(&self) -> [(&'static str, &Vec<Row>); 9] {
        [
            ("pages", &self.pages),
            ("entry_pages", &self.entry_pages),
            ("exit_pages", &self.exit_pages),
            ("referrers", &self.referrers),
            ("utm_sources", &self.utm_sources),
            ("utm_mediums", &self.utm_mediums),
            ("utm_campaigns", &self.utm_campaigns),
            ("devices", &self.devices),
            ("browsers", &self.browsers),
        ]
    }
}

impl Tabular for WebResponse {
    fn header(&self) -> Vec<&'static str> {
        vec!["period", "table", "value", "visitors", "count"]
    }

    /// Each breakdown's rows, current period first; the summary as `summary` rows whose
    /// value names the figure.
    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for (name, period) in std::iter::once(("current", &self.current))
            .chain(self.previous.as_ref().map(|period| ("previous", period)))
        {
            let summary = &period.summary;
            for (figure, value) in [
                ("visitors", summary.visitors as f64),
                ("sessions", summary.sessions as f64),
                ("pageviews", summary.pageviews as f64),
                ("bounce_rate", summary.bounce_rate),
                ("average_session_seconds", summary.average_session_seconds),
                ("pageviews_per_session", summary.pageviews_per_session),
            ] {
                rows.push(vec![
                    name.to_string(),
                    "summary".to_string(),
                    figure.to_string(),
                    String::new(),
                    value.to_string(),
                ]);
            }
            for (table, table_rows) in period.tables() {
                for row in table_rows {
                    rows.push(vec![
                        name.to_string(),
                        table.to_string(),
                        row.value.clone(),
                        row.visitors.to_string(),
                        row.count.to_string(),
                    ]);
                }
            }
        }
        rows
    }
}

async fn frame(
    context: &SessionContext,
    (start, end): (i64, i64),
) -> Result<DataFrame, DataFusionError> {
    context
        .table("events")
        .await?
        .filter(
            col("type")
                .eq(lit("page"))
                .and(time_range(start, end))
                .and(not_bot()),
        )?
        .select(vec![
            person(context)?.alias("person"),
            col("timestamp").alias("at"),
            col("page_path"),
            col("page_url"),
            col("page_referrer"),
            col("utm_source"),
            col("utm_medium"),
            col("utm_campaign"),
            col("user_agent"),
        ])
}

/// The host of a URL, without `www.`.
fn host(url: &str) -> Option<String> {
    let host = url::Url::parse(url).ok()?.host_str()?.to_string();
    Some(
        host.strip_prefix("www.")
            .map(str::to_string)
            .unwrap_or(host),
    )
}

/// Hosts of URLs (as numbers of the interned host), parsed once per distinct URL.
#[derive(Default)]
struct Hosts(HashMap<String, Option<u32>>);

impl Hosts {
    /// URLs remembered at most; past that the memory starts afresh.
    const MAX_REMEMBERED: usize = 200_000;

    fn of(&mut self, url: &str, values: &mut Interner) -> Option<u32> {
        if let Some(known) = self.0.get(url) {
            return *known;
        }
        if self.0.len() >= Self::MAX_REMEMBERED {
            self.0.clear();
        }
        let number = host(url).map(|host| values.number(&host));
        self.0.insert(url.to_string(), number);
        number
    }
}

/// Classifies user agents once per distinct string.
#[derive(Default)]
struct Agents {
    parser: woothee::parser::Parser,
    seen: HashMap<String, (u32, u32)>,
}

impl Agents {
    fn classify(&mut self, agent: Option<&str>, values: &mut Interner) -> (u32, u32) {
        let agent = agent.unwrap_or("");
        if let Some(known) = self.seen.get(agent) {
            return *known;
        }
        let parsed = self.parser.parse(agent);
        let (device, browser) = match parsed {
            Some(result) => {
                let device = match result.category {
                    "pc" => "Desktop",
                    "smartphone" => "Mobile",
                    "mobilephone" => "Mobile",
                    "appliance" => "Appliance",
                    "crawler" => "Crawler",
                    _ => "Other",
                };
                (device, result.name)
            }
            None => ("Other", "Unknown"),
        };
        let classified = (values.number(device), values.number(browser));
        self.seen.insert(agent.to_string(), classified);
        classified
    }
}

fn text(column: &StringArray, row: usize) -> Option<&str> {
    (column.is_valid(row) && !column.value(row).is_empty()).then(|| column.value(row))
}

pub async fn web(state: &AppState, request: &WebRequest) -> Result<WebResponse, ApiError> {
    if !(1..=MAX_TOP).contains(&request.top) {
        return Err(ApiError::bad_request(format!(
            "top must be between 1 and {MAX_TOP}"
        )));
    }
    if !(1..=24 * 60).contains(&request.session_gap_minutes) {
        return Err(ApiError::bad_request(
            "session_gap_minutes must be between 1 and 1440",
        ));
    }
    let current = DateRange {
        from: request.from,
        to: request.to,
        time_zone: request.time_zone.clone(),
    };
    let (start, end) = current.bounds()?;
    let previous = request.compare.then(|| current.previous()).transpose()?;
    let scan_start = match &previous {
        Some(previous) => previous.bounds()?.0,
        None => start,
    };
    let context = state.store.session(&state.query_limits)?;
    let frame = frame(&context, (scan_start, end)).await?;
    let explain = request.explain.then(|| Explain {
        sql: vec![scan::plan_text(&frame)],
        counting: format!(
            "rows sorted by person and time; a session ends after {} minutes without a \
             pageview; a session takes its referrer host (other than the page's own), UTM \
             values, device and browser (user agent parsed by woothee) from its first pageview",
            request.session_gap_minutes
        ),
    });
    let mut values = Interner::default();
    let mut agents = Agents::default();
    let mut hosts = Hosts::default();
    let (direct, none) = (values.number(DIRECT), values.number(NONE));
    let mut rows: Vec<(u32, i64, (u32, [u32; 6]))> = Vec::new();
    scan::stream(state, frame, |batch| {
        let persons = scan::persons(&batch, 0);
        let times = scan::timestamps(&batch, 1)?;
        let columns: Vec<StringArray> = (2..9)
            .map(|index| scan::texts(&batch, index))
            .collect::<Result<_, _>>()?;
        let [
            paths,
            urls,
            referrers,
            sources,
            mediums,
            campaigns,
            user_agents,
        ] = &columns[..]
        else {
            return Ok(());
        };
        for (row, person) in scan::known_persons(&persons) {
            let page = values.number(text(paths, row).unwrap_or("/"));
            let own_host = text(urls, row).and_then(|url| hosts.of(url, &mut values));
            let referrer = match text(referrers, row).and_then(|url| hosts.of(url, &mut values)) {
                Some(referrer) if Some(referrer) != own_host => referrer,
                _ => direct,
            };
            let mut utm =
                |column: &StringArray| text(column, row).map_or(none, |value| values.number(value));
            let (source, medium, campaign) = (utm(sources), utm(mediums), utm(campaigns));
            let (device, browser) = agents.classify(text(user_agents, row), &mut values);
            let dimensions = [referrer, source, medium, campaign, device, browser];
            rows.push((person, times.value(row), (page, dimensions)));
        }
        Ok(())
    })
    .await?;
    let mut now = WebCounter::with_days(request.session_gap_minutes, current.day_starts()?);
    let mut before = match &previous {
        Some(range) => WebCounter::with_days(request.session_gap_minutes, range.day_starts()?),
        None => WebCounter::new(request.session_gap_minutes),
    };
    let mut views = Vec::new();
    scan::by_person(
        rows,
        |_| 0,
        |person_rows| {
            views.clear();
            views.extend(
                person_rows
                    .iter()
                    .map(|&(_, at, (page, dimensions))| PageView {
                        at_micros: at,
                        page,
                        dimensions,
                    }),
            );
            let split = views.partition_point(|view| view.at_micros < start);
            before.add_person(&views[..split]);
            now.add_person(&views[split..]);
        },
    );
    let period = |range: &DateRange, report: WebReport| named(range, report, &values);
    let previous = previous.map(|range| period(&range, before.finish(request.top)));
    Ok(WebResponse {
        current: period(&current, now.finish(request.top)),
        previous,
        explain,
    })
}

fn named(range: &DateRange, report: WebReport, values: &Interner) -> Period {
    let rows = |rows: Vec<silta_analytics::web::Row>| {
        rows.into_iter()
            .map(|row| Row {
                value: values.value(row.value).to_string(),
                visitors: row.visitors,
                count: row.count,
            })
            .collect::<Vec<Row>>()
    };
    let mut dimensions: HashMap<Dimension, Vec<Row>> = report
        .dimensions
        .into_iter()
        .map(|(dimension, dimension_rows)| (dimension, rows(dimension_rows)))
        .collect();
    let mut take = |dimension| dimensions.remove(&dimension).unwrap_or_default();
    Period {
        from: range.from,
        to: range.to,
        summary: report.summary,
        daily: range
            .from
            .iter_days()
            .zip(report.daily)
            .map(|(date, counts)| Day { date, counts })
            .collect(),
        pages: rows(report.pages),
        entry_pages: rows(report.entry_pages),
        exit_pages: rows(report.exit_pages),
        referrers: take(Dimension::Referrer),
        utm_sources: take(Dimension::UtmSource),
        utm_mediums: take(Dimension::UtmMedium),
        utm_campaigns: take(Dimension::UtmCampaign),
        devices: take(Dimension::Device),
        browsers: take(Dimension::Browser),
    }
}
