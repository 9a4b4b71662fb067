//! `POST /v1/analytics/retention`: cohorts by the first occurrence of an event and the share of
//! each cohort that did the return event in each later day or week.

use arrow::array::{Array, AsArray};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Days, NaiveDate, Utc};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::prelude::{SessionContext, col, lit};
use serde::{Deserialize, Serialize};
use silta_analytics::funnel::Step;
use silta_analytics::retention::{Cohort, Period, RetentionCounter, RetentionEvent};

use super::expressions::{event_match, not_bot, person, time_range};
use super::scan::{self, DateRange, Explain};
use crate::output::{FormatQuery, Tabular};
use crate::{ApiError, AppState};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// A person's cohort is the period of their first such event, ever...
    #[serde(default)]
    pub cohort_event: Option<Step>,
    /// ...or of their entry into this audience (its current members).
    #[serde(default)]
    pub cohort_audience: Option<String>,
    pub return_event: Step,
    #[serde(default)]
    pub period: Period,
    /// Columns of the triangle, period 0 included.
    #[serde(default = "default_periods")]
    pub periods: u32,
    /// Cohorts whose period starts on these local dates.
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub explain: bool,
}

fn default_periods() -> u32 {
    12
}

#[derive(Debug, Serialize)]
pub struct RetentionResponse {
    pub period: Period,
    pub cohorts: Vec<Cohort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    output: Result<Query<FormatQuery>, QueryRejection>,
    request: Result<Json<RetentionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    super::answer(&state, &headers, output, request, retention).await
}

impl Tabular for RetentionResponse {
    fn header(&self) -> Vec<&'static str> {
        vec!["cohort", "people", "period", "returned", "rate"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.cohorts
            .iter()
            .flat_map(|cohort| {
                cohort
                    .returned
                    .iter()
                    .zip(&cohort.rates)
                    .enumerate()
                    .map(|(period, (returned, rate))| {
                        vec![
                            cohort.start.to_string(),
                            cohort.people.to_string(),
                            period.to_string(),
                            returned.to_string(),
                            rate.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

async fn frame(
    context: &SessionContext,
    request: &RetentionRequest,
    end: i64,
) -> Result<DataFrame, DataFusionError> {
    let cohort = match &request.cohort_event {
        Some(step) => event_match(context, Some(&step.event), &step.filters)?,
        None => lit(false),
    };
    let returned = event_match(
        context,
        Some(&request.return_event.event),
        &request.return_event.filters,
    )?;
    context
        .table("events")
        .await?
        .filter(
            time_range(0, end)
                .and(not_bot())
                .and(cohort.clone().or(returned.clone())),
        )?
        .select(vec![
            person(context)?.alias("person"),
            col("timestamp").alias("at"),
            cohort.alias("cohort"),
            returned.alias("returned"),
        ])
}

/// A person's event: `(person, time, (matches the cohort, matches the return))`.
type Row = (u32, i64, (bool, bool));

/// With a cohort audience, each current member's entry as a cohort row; none otherwise.
fn audience_entries(state: &AppState, request: &RetentionRequest) -> Result<Vec<Row>, ApiError> {
    let key = match (&request.cohort_event, &request.cohort_audience) {
        (Some(_), None) => return Ok(Vec::new()),
        (None, Some(key)) => key,
        _ => {
            return Err(ApiError::bad_request(
                "name the cohort either by 'cohort_event' or by 'cohort_audience'",
            ));
        }
    };
    if state.credentials.audience(key)?.is_none() {
        return Err(ApiError::bad_request(format!("no audience `{key}`")));
    }
    let members = state.credentials.audience_members(key)?;
    let graph = state.identity.read();
    Ok(members
        .iter()
        .filter_map(|(profile_id, entered_at)| {
            let person = graph.profile_index(profile_id)?;
            Some((person, entered_at.timestamp_micros(), (true, false)))
        })
        .collect())
}

pub async fn retention(
    state: &AppState,
    request: &RetentionRequest,
) -> Result<RetentionResponse, ApiError> {
    let period_days = match request.period {
        Period::Day => 1,
        Period::Week => 7,
    };
    // Observe until the last column of the last cohort has ended.
    let observed = DateRange {
        from: request.from,
        to: request
            .to
            .checked_add_days(Days::new(u64::from(request.periods) * period_days + 7))
            .ok_or_else(|| ApiError::bad_request("'to' is out of range"))?,
        time_zone: request.time_zone.clone(),
    };
    let (_, end) = observed.bounds()?;
    let mut counter = RetentionCounter::new(
        request.period,
        observed.zone()?,
        (request.from, request.to),
        request.periods,
        Utc::now().timestamp_micros(),
    )
    .map_err(|error| ApiError::bad_request(error.to_string()))?;
    for step in request.cohort_event.iter().chain([&request.return_event]) {
        for filter in &step.filters {
            filter
                .validate()
                .map_err(|error| ApiError::bad_request(error.to_string()))?;
        }
    }
    let mut rows = audience_entries(state, request)?;
    let context = state.store.session(&state.query_limits)?;
    let frame = frame(&context, request, end).await?;
    let explain = request.explain.then(|| Explain {
        sql: vec![scan::plan_text(&frame)],
        counting: "rows sorted by person and time; a person's cohort is the local day or week \
                   (weeks start on Monday) of their first cohort event (or of their entry into \
                   the cohort audience); they count as returned in \
                   period n when a return event falls in the n-th period after their cohort's"
            .to_string(),
    });
    scan::stream(state, frame, |batch| {
        let persons = scan::persons(&batch, 0);
        let times = scan::timestamps(&batch, 1)?;
        let cohort = batch.column(2).as_boolean().clone();
        let returned = batch.column(3).as_boolean().clone();
        for (row, person) in scan::known_persons(&persons) {
            let flags = (
                cohort.is_valid(row) && cohort.value(row),
                returned.is_valid(row) && returned.value(row),
            );
            rows.push((person, times.value(row), flags));
        }
        Ok(())
    })
    .await?;
    let mut events = Vec::new();
    scan::by_person(
        rows,
        |_| 0,
        |person_rows| {
            events.clear();
            events.extend(
                person_rows
                    .iter()
                    .map(|&(_, at, (cohort, returned))| RetentionEvent {
                        at_micros: at,
                        cohort,
                        returned,
                    }),
            );
            counter.add_person(&events);
        },
    );
    Ok(RetentionResponse {
        period: request.period,
        cohorts: counter.finish(),
        explain,
    })
}
