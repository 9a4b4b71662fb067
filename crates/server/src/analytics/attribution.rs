//! `POST /v1/analytics/attribution`: conversions and revenue credited to the channels or
//! campaigns that touched each converting person within the lookback window, under every
//! model at once; with the `spend` table, cost per acquisition and return on ad spend.

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::when;
use datafusion::prelude::{SessionContext, coalesce, col, lit};
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};
use silta_analytics::Field;
use silta_analytics::attribution::{Attributor, Conversion, Journey, Model, Options, Touch};
use silta_analytics::funnel::Step;

use super::expressions::{date, event_match, field_text, not_bot, person, time_range};
use super::scan::{self, DateRange, Explain, Interner};
use crate::output::{FormatQuery, Tabular, cell};
use crate::{ApiError, AppState};

const DAY_MICROS: i64 = 86_400_000_000;
const MAX_LOOKBACK_DAYS: u32 = 365;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionRequest {
    /// The conversion event; its `revenue` is the value credited.
    pub conversion: Step,
    /// What names a touch: any event other than a conversion with this field set.
    #[serde(default = "default_touch")]
    pub touch: Field,
    /// Models to report; all by default.
    #[serde(default)]
    pub models: Option<Vec<Model>>,
    #[serde(default = "default_lookback_days")]
    pub lookback_days: u32,
    /// Conversions on these local dates count.
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub explain: bool,
}

fn default_touch() -> Field {
    Field::Column("utm_source".to_string())
}

fn default_lookback_days() -> u32 {
    30
}

#[derive(Debug, Serialize)]
pub struct KeyCredit {
    pub key: String,
    pub conversions: f64,
    pub revenue: f64,
    /// From the `spend` table, where its `channel` equals the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_acquisition: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_on_ad_spend: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct ModelCredits {
    pub model: Model,
    pub credits: Vec<KeyCredit>,
}

#[derive(Debug, Serialize)]
pub struct AttributionResponse {
    pub conversions: u64,
    pub revenue: f64,
    /// Conversions with no touch in their lookback window.
    pub unattributed_conversions: u64,
    pub unattributed_revenue: f64,
    pub models: Vec<ModelCredits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

pub async fn handle(
    State(state): State<AppState>,
    headers: HeaderMap,
    output: Result<Query<FormatQuery>, QueryRejection>,
    request: Result<Json<AttributionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    super::answer(&state, &headers, output, request, attribution).await
}

impl Tabular for AttributionResponse {
    fn header(&self) -> Vec<&'static str> {
        vec![
            "model",
            "key",
            "conversions",
            "revenue",
            "spend",
            "cost_per_acquisition",
            "return_on_ad_spend",
        ]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.models
            .iter()
            .flat_map(|model| {
                let name = serde_json::to_value(model.model)
                    .ok()
                    .and_then(|name| name.as_str().map(str::to_string))
                    .unwrap_or_default();
                model.credits.iter().map(move |credit| {
                    vec![
                        name.clone(),
                        credit.key.clone(),
                        credit.conversions.to_string(),
                        credit.revenue.to_string(),
                        cell(credit.spend),
                        cell(credit.cost_per_acquisition),
                        cell(credit.return_on_ad_spend),
                    ]
                })
            })
            .collect()
    }
}

/// Touches (`key` set) and conversions (`value` set) of everyone, in the range.
async fn frame(
    context: &SessionContext,
    request: &AttributionRequest,
    (start, end): (i64, i64),
) -> Result<DataFrame, DataFusionError> {
    let converted = event_match(
        context,
        Some(&request.conversion.event),
        &request.conversion.filters,
    )?;
    let key = field_text(context, &request.touch)?;
    let touched = key.clone().is_not_null().and(key.clone().not_eq(lit("")));
    let lookback = i64::from(request.lookback_days) * DAY_MICROS;
    let in_conversion_range = col("timestamp").gt_eq(super::expressions::timestamp(start));
    let counted = converted.clone().and(in_conversion_range);
    context
        .table("events")
        .await?
        .filter(
            time_range(start - lookback, end)
                .and(not_bot())
                .and(counted.clone().or(touched)),
        )?
        .select(vec![
            person(context)?.alias("person"),
            col("timestamp").alias("at"),
            when(converted.clone(), lit(ScalarValue::Utf8(None)))
                .otherwise(key)?
                .alias("key"),
            // Conversions before the range are neither counted nor touches.
            when(counted, coalesce(vec![col("revenue"), lit(0.0)]))
                .otherwise(lit(ScalarValue::Float64(None)))?
                .alias("value"),
        ])
}

/// Spend per `channel` of the `spend` table on the requested dates; empty without the table.
async fn spend(state: &AppState, range: &DateRange) -> Result<HashMap<String, f64>, ApiError> {
    let context = state.store.session(&state.query_limits)?;
    let Ok(table) = context.table("spend").await else {
        return Ok(HashMap::new());
    };
    let frame = table
        .filter(
            col("date")
                .gt_eq(date(range.from))
                .and(col("date").lt_eq(date(range.to))),
        )?
        .aggregate(vec![col("channel")], vec![sum(col("spend")).alias("spend")])?;
    let mut spent = HashMap::new();
    scan::stream(state, frame, |batch| {
        let channels = scan::texts(&batch, 0)?;
        let amounts = batch.column(1).as_primitive::<Float64Type>().clone();
        for row in 0..batch.num_rows() {
            if channels.is_valid(row) && amounts.is_valid(row) {
                spent.insert(channels.value(row).to_string(), amounts.value(row));
            }
        }
        Ok(())
    })
    .await?;
    Ok(spent)
}

#[derive(Debug, Clone, Copy)]
enum Happened {
    Touch(u32),
    Conversion(f64),
}

pub async fn attribution(
    state: &AppState,
    request: &AttributionRequest,
) -> Result<AttributionResponse, ApiError> {
    if !(1..=MAX_LOOKBACK_DAYS).contains(&request.lookback_days) {
        return Err(ApiError::bad_request(format!(
            "lookback_days must be between 1 and {MAX_LOOKBACK_DAYS}"
        )));
    }
    for filter in &request.conversion.filters {
        filter
            .validate()
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
    }
    let range = DateRange {
        from: request.from,
        to: request.to,
        time_zone: request.time_zone.clone(),
    };
    let (start, end) = range.bounds()?;
    let context = state.store.session(&state.query_limits)?;
    let frame = frame(&context, request, (start, end)).await?;
    let explain = request.explain.then(|| Explain {
        sql: vec![scan::plan_text(&frame)],
        counting: format!(
            "rows sorted by person and time; each conversion on the requested dates is \
             credited to the touches at most {} days before it (both ends inclusive) under \
             each model; the data-driven model is the first-order Markov chain removal effect",
            request.lookback_days
        ),
    });
    let mut keys = Interner::default();
    let mut rows: Vec<(u32, i64, Happened)> = Vec::new();
    scan::stream(state, frame, |batch| {
        let persons = scan::persons(&batch, 0);
        let times = scan::timestamps(&batch, 1)?;
        let key_texts = scan::texts(&batch, 2)?;
        let values = batch.column(3).as_primitive::<Float64Type>().clone();
        for (row, person) in scan::known_persons(&persons) {
            let happened = if values.is_valid(row) {
                Happened::Conversion(values.value(row).max(0.0))
            } else if key_texts.is_valid(row) {
                Happened::Touch(keys.number(key_texts.value(row)))
            } else {
                continue;
            };
            rows.push((person, times.value(row), happened));
        }
        Ok(())
    })
    .await?;
    let options = Options {
        lookback_micros: i64::from(request.lookback_days) * DAY_MICROS,
        ..Options::default()
    };
    let mut attributor = Attributor::new(keys.len(), options)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let (mut touches, mut conversions) = (Vec::new(), Vec::new());
    let mut failed = None;
    scan::by_person(
        rows,
        |_| 0,
        |person_rows| {
            touches.clear();
            conversions.clear();
            for &(_, at, happened) in person_rows {
                match happened {
                    Happened::Touch(key) => touches.push(Touch { at_micros: at, key }),
                    Happened::Conversion(value) => conversions.push(Conversion {
                        at_micros: at,
                        value: if value.is_finite() { value } else { 0.0 },
                    }),
                }
            }
            let journey = Journey {
                touches: &touches,
                conversions: &conversions,
            };
            if let Err(error) = attributor.add(journey) {
                failed.get_or_insert(error);
            }
        },
    );
    if let Some(error) = failed {
        return Err(ApiError::internal(error));
    }
    let spent = spend(state, &range).await?;
    let models = request
        .models
        .clone()
        .unwrap_or_else(|| Model::ALL.to_vec());
    let mut response = AttributionResponse {
        conversions: 0,
        revenue: 0.0,
        unattributed_conversions: 0,
        unattributed_revenue: 0.0,
        models: Vec::with_capacity(models.len()),
        explain,
    };
    for model in models {
        let attribution = attributor.attribution(model);
        response.conversions = attribution.total_conversions;
        response.revenue = attribution.total_revenue;
        response.unattributed_conversions = attribution.unattributed_conversions;
        response.unattributed_revenue = attribution.unattributed_revenue;
        let mut credits: Vec<KeyCredit> = attribution
            .credits
            .iter()
            .map(|credit| {
                let key = keys.value(credit.key).to_string();
                let spend = spent.get(&key).copied();
                KeyCredit {
                    cost_per_acquisition: spend
                        .filter(|_| credit.conversions > 0.0)
                        .map(|spend| spend / credit.conversions),
                    return_on_ad_spend: spend
                        .filter(|spend| *spend > 0.0)
                        .map(|spend| credit.revenue / spend),
                    spend,
                    key,
                    conversions: credit.conversions,
                    revenue: credit.revenue,
                }
            })
            .collect();
        credits.sort_by(|a, b| {
            b.conversions
                .total_cmp(&a.conversions)
                .then_with(|| a.key.cmp(&b.key))
        });
        response.models.push(ModelCredits { model, credits });
    }
    Ok(response)
}
