//! `POST /v1/analytics/funnel`: people through ordered steps within a conversion window.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::when;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};
use silta_analytics::Field;
use silta_analytics::funnel::{FunnelCounter, Step, StepEvent, StepFigures, StepOrder};

use super::expressions::{event_match, field_text, not_bot, person, time_range};
use super::scan::{self, DateRange, Explain, Interner};
use crate::output::{FormatQuery, Tabular, cell};
use crate::{ApiError, AppState};

/// Breakdown values reported at most, by people entering the funnel.
const MAX_BREAKDOWN_VALUES: usize = 50;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelRequest {
    pub steps: Vec<Step>,
    /// Hours from the first step within which the last must happen.
    #[serde(default = "default_window_hours")]
    pub window_hours: u32,
    #[serde(default)]
    pub order: StepOrder,
    /// An event column or property of the first step, e.g. `channel` or `utm_campaign`.
    #[serde(default)]
    pub breakdown: Option<Field>,
    /// First steps on these local dates count.
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub explain: bool,
}

fn default_window_hours() -> u32 {
    24 * 7
}

#[derive(Debug, Serialize)]
pub struct NamedStep {
    pub event: String,
    #[serde(flatten)]
    pub figures: StepFigures,
}

#[derive(Debug, Serialize)]
pub struct BreakdownRow {
    pub value: String,
    pub steps: Vec<StepFigures>,
}

#[derive(Debug, Serialize)]
pub struct FunnelResponse {
    pub steps: Vec<NamedStep>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<BreakdownRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    output: Result<Query<FormatQuery>, QueryRejection>,
    request: Result<Json<FunnelRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    super::answer(&state, &headers, output, request, funnel).await
}

impl Tabular for FunnelResponse {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "breakdown",
            "step",
            "event",
            "people",
            "conversion",
            "conversion_from_previous",
            "dropped",
            "median_seconds",
        ]
    }

    /// Everyone first (empty breakdown), then each breakdown value.
    fn rows(&self) -> Vec<Vec<String>> {
        let events: Vec<&str> = self.steps.iter().map(|step| step.event.as_str()).collect();
        let overall = (
            "",
            self.steps
                .iter()
                .map(|step| &step.figures)
                .collect::<Vec<_>>(),
        );
        let groups = std::iter::once(overall).chain(
            self.breakdown
                .iter()
                .map(|row| (row.value.as_str(), row.steps.iter().collect())),
        );
        groups
            .flat_map(|(value, figures)| {
                figures
                    .into_iter()
                    .zip(&events)
                    .enumerate()
                    .map(|(index, (step, event))| {
                        vec![
                            value.to_string(),
                            (index + 1).to_string(),
                            event.to_string(),
                            step.people.to_string(),
                            step.conversion.to_string(),
                            step.conversion_from_previous.to_string(),
                            step.dropped.to_string(),
                            cell(step.median_seconds),
                        ]
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// One row per event that matches any step (in strict order, per event): the person, the
/// time, a bit per step the event matches, and the breakdown value.
async fn frame(
    context: &SessionContext,
    request: &FunnelRequest,
    (start, end): (i64, i64),
) -> Result<DataFrame, DataFusionError> {
    let mut steps_mask = lit(0_i64);
    let mut any_step = lit(false);
    for (index, step) in request.steps.iter().enumerate() {
        let matches = event_match(context, Some(&step.event), &step.filters)?;
        steps_mask =
            steps_mask + when(matches.clone(), lit(1_i64 << index)).otherwise(lit(0_i64))?;
        any_step = any_step.or(matches);
    }
    let window = i64::from(request.window_hours) * 3_600_000_000;
    let mut condition = time_range(start, end + window).and(not_bot());
    if request.order == StepOrder::Loose {
        condition = condition.and(any_step);
    }
    let breakdown = match &request.breakdown {
        Some(field) => field_text(context, field)?,
        None => lit(ScalarValue::Utf8(None)),
    };
    context
        .table("events")
        .await?
        .filter(condition)?
        .select(vec![
            person(context)?.alias("person"),
            col("timestamp").alias("at"),
            steps_mask.alias("steps"),
            breakdown.alias("breakdown"),
        ])
}

pub async fn funnel(state: &AppState, request: &FunnelRequest) -> Result<FunnelResponse, ApiError> {
    let range = DateRange {
        from: request.from,
        to: request.to,
        time_zone: request.time_zone.clone(),
    };
    let (start, end) = range.bounds()?;
    // Checks the definition before reading anything.
    FunnelCounter::new(&request.steps, request.window_hours, request.order, 0)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let context = state.store.session(&state.query_limits)?;
    let frame = frame(&context, request, (start, end)).await?;
    let explain = request.explain.then(|| Explain {
        sql: vec![scan::plan_text(&frame)],
        counting: "rows sorted by person and time; per person, ClickHouse windowFunnel: a chain \
                   starts at a first step on the requested dates and each later step must follow \
                   the previous one before the first step's time plus window_hours; a person \
                   counts for the furthest step of any chain"
            .to_string(),
    });
    let mut values = Interner::default();
    let mut rows: Vec<(u32, i64, (u32, Option<u32>))> = Vec::new();
    scan::stream(state, frame, |batch| {
        let persons = scan::persons(&batch, 0);
        let times = scan::timestamps(&batch, 1)?;
        let steps = batch.column(2).as_primitive::<Int64Type>().clone();
        let breakdowns = scan::texts(&batch, 3)?;
        for (row, person) in scan::known_persons(&persons) {
            let at = times.value(row);
            let mut mask = steps.value(row) as u32;
            if at >= end {
                mask &= !1;
            }
            let value = breakdowns
                .is_valid(row)
                .then(|| values.number(breakdowns.value(row)));
            rows.push((person, at, (mask, value)));
        }
        Ok(())
    })
    .await?;
    let mut counter = FunnelCounter::new(
        &request.steps,
        request.window_hours,
        request.order,
        values.len(),
    )
    .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let mut events = Vec::new();
    // Of events at the same moment, earlier steps first: a step may happen at the same time
    // as the one before it.
    let first_step = |(steps, _): &(u32, Option<u32>)| steps.trailing_zeros();
    scan::by_person(rows, first_step, |person_rows| {
        events.clear();
        events.extend(
            person_rows
                .iter()
                .map(|&(_, at, (steps, breakdown))| StepEvent {
                    at_micros: at,
                    steps,
                    breakdown,
                }),
        );
        counter.add_person(&events);
    });
    let (overall, by_value) = counter.finish();
    let steps = request
        .steps
        .iter()
        .zip(overall)
        .map(|(step, figures)| NamedStep {
            event: step.event.clone(),
            figures,
        })
        .collect();
    let mut breakdown: Vec<BreakdownRow> = values
        .into_values()
        .into_iter()
        .zip(by_value)
        .map(|(value, steps)| BreakdownRow { value, steps })
        .filter(|row| row.steps.first().is_some_and(|step| step.people > 0))
        .collect();
    breakdown.sort_by(|a, b| {
        let people = |row: &BreakdownRow| row.steps.first().map_or(0, |step| step.people);
        people(b)
            .cmp(&people(a))
            .then_with(|| a.value.cmp(&b.value))
    });
    breakdown.truncate(MAX_BREAKDOWN_VALUES);
    Ok(FunnelResponse {
        steps,
        breakdown,
        explain,
    })
}
