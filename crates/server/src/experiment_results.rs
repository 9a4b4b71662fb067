//! `GET /v1/experiments/{key}/results`: each metric computed from the event store for every
//! exposed person (by merged profile, from their first `Experiment Viewed`), summarised per
//! variation and analysed against control.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use datafusion::common::JoinType;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::{count, min, sum};
use datafusion::logical_expr::when;
use datafusion::prelude::{SessionContext, cast, coalesce, col, lit};
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};
use silta_experiments::{
    Experiment, Metric, MetricKind, Statistic, TestConfig, TestResult, benjamini_hochberg,
    equal_weights, holm_bonferroni, sample_ratio_mismatch, two_sided_test,
};
use silta_state::Permission;

use crate::analytics::expressions::function;
use crate::experiments::{SRM_THRESHOLD, experiment};
use crate::{ApiError, AppState, auth, query};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsQuery {
    /// Always-valid confidence sequences (safe to look at every day).
    #[serde(default)]
    sequential: bool,
    /// Adjust p-values across every metric and variation.
    #[serde(default)]
    correction: Option<Correction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Holm-Bonferroni: the family-wise error rate.
    Holm,
    /// Benjamini-Hochberg: the false discovery rate.
    BenjaminiHochberg,
}

#[derive(Debug, Serialize)]
pub struct MetricResults {
    pub name: String,
    pub kind: MetricKind,
    /// Per variation, control first.
    pub statistics: Vec<Statistic>,
    /// Each variation after control against control.
    pub results: Vec<TestResult>,
    /// With a correction: each result's p-value adjusted for all the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted_p_values: Option<Vec<f64>>,
}

#[derive(Debug, Serialize)]
pub struct Results {
    /// Exposed people per variation.
    pub units: Vec<u64>,
    pub srm_p_value: f64,
    pub srm_warning: bool,
    pub metrics: Vec<MetricResults>,
}

/// One row per exposed person: `pid`, `variation`, `exposed_at` (their first exposure).
async fn exposures(context: &SessionContext, key: &str) -> Result<DataFrame, DataFusionError> {
    let experiment_id = function(
        context,
        "json_get_str",
        vec![col("properties"), lit("experiment_id")],
    )?;
    let variation = function(
        context,
        "json_get_int",
        vec![col("properties"), lit("variation_id")],
    )?;
    let person = function(
        context,
        "profile_id",
        vec![col("user_id"), col("anonymous_id")],
    )?;
    context
        .table("events")
        .await?
        .filter(
            col("event")
                .eq(lit("Experiment Viewed"))
                .and(experiment_id.eq(lit(key))),
        )?
        .select(vec![
            person.alias("pid"),
            variation.alias("variation_id"),
            col("timestamp"),
        ])?
        .filter(
            col("pid")
                .is_not_null()
                .and(col("variation_id").is_not_null()),
        )?
        .aggregate(
            vec![col("pid")],
            vec![
                min(col("timestamp")).alias("exposed_at"),
                min(col("variation_id")).alias("variation"),
            ],
        )
}

/// `variation`, `n`, `sum`, `sum_squares` of the metric's value per exposed person.
async fn summarise(
    context: &SessionContext,
    exposed: DataFrame,
    metric: &Metric,
) -> Result<DataFrame, DataFusionError> {
    let person = function(
        context,
        "profile_id",
        vec![col("user_id"), col("anonymous_id")],
    )?;
    let value = match (&metric.kind, &metric.property) {
        (MetricKind::Mean, Some(property)) => function(
            context,
            "json_get_float",
            vec![col("properties"), lit(property.clone())],
        )?,
        _ => lit(1.0),
    };
    let happened = context
        .table("events")
        .await?
        .filter(col("event").eq(lit(metric.event.clone())))?
        .select(vec![
            person.alias("mpid"),
            col("timestamp").alias("at"),
            value.alias("value"),
        ])?;
    let window = lit(ScalarValue::new_interval_mdn(
        0,
        0,
        i64::from(metric.window_hours) * 3_600 * 1_000_000_000,
    ));
    let per_person = exposed
        .join_on(
            happened,
            JoinType::Left,
            [
                col("pid").eq(col("mpid")),
                col("at").gt_eq(col("exposed_at")),
                col("at").lt(col("exposed_at") + window),
            ],
        )?
        .aggregate(
            vec![col("pid"), col("variation")],
            vec![
                count(col("at")).alias("events"),
                sum(col("value")).alias("total"),
            ],
        )?;
    let raw = match metric.kind {
        MetricKind::Conversion => when(col("events").gt(lit(0)), lit(1.0)).otherwise(lit(0.0))?,
        MetricKind::Count => cast(col("events"), arrow::datatypes::DataType::Float64),
        MetricKind::Mean => coalesce(vec![col("total"), lit(0.0)]),
    };
    let capped = match metric.cap {
        Some(cap) => when(raw.clone().gt(lit(cap)), lit(cap)).otherwise(raw)?,
        None => raw,
    };
    per_person
        .select(vec![col("variation"), capped.alias("v")])?
        .aggregate(
            vec![col("variation")],
            vec![
                count(lit(1)).alias("n"),
                sum(col("v")).alias("sum"),
                sum(col("v") * col("v")).alias("sum_squares"),
            ],
        )
}

/// Runs `build` on the store and returns its rows as JSON objects.
async fn rows<F, Fut>(state: &AppState, build: F) -> Result<Vec<serde_json::Value>, ApiError>
where
    F: FnOnce(SessionContext) -> Fut,
    Fut: std::future::Future<Output = Result<DataFrame, DataFusionError>>,
{
    let (batches, _) = state.store.query_frame(&state.query_limits, build).await?;
    Ok(silta_store::batches_to_json_rows(&batches)?)
}

fn statistics(rows: &[serde_json::Value], variations: usize, kind: MetricKind) -> Vec<Statistic> {
    (0..variations)
        .map(|index| {
            let row = rows
                .iter()
                .find(|row| row["variation"].as_u64() == Some(index as u64));
            let field = |name: &str| row.and_then(|row| row[name].as_f64()).unwrap_or(0.0);
            let n = row.and_then(|row| row["n"].as_u64()).unwrap_or(0);
            match kind {
                MetricKind::Conversion => Statistic::Proportion {
                    n,
                    sum: field("sum"),
                },
                MetricKind::Count | MetricKind::Mean => Statistic::Mean {
                    n,
                    sum: field("sum"),
                    sum_squares: field("sum_squares"),
                },
            }
        })
        .collect()
}

pub async fn results(
    State(state): State<AppState>,
    Path(key): Path<String>,
    options: Result<Query<ResultsQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<Results>, ApiError> {
    auth::require(&state, &headers, Permission::Experiments)?;
    let Query(options) = options?;
    let mut results = experiment_results(&state, &key, options.sequential).await?;
    if let Some(correction) = options.correction {
        adjust(&mut results.metrics, correction);
    }
    Ok(Json(results))
}

/// Sets every metric's adjusted p-values, adjusting across all metrics and variations.
fn adjust(metrics: &mut [MetricResults], correction: Correction) {
    let all: Vec<f64> = metrics
        .iter()
        .flat_map(|metric| metric.results.iter().map(|result| result.p_value))
        .collect();
    let adjusted = match correction {
        Correction::Holm => holm_bonferroni(&all),
        Correction::BenjaminiHochberg => benjamini_hochberg(&all),
    };
    let mut adjusted = adjusted.into_iter();
    for metric in metrics {
        metric.adjusted_p_values = Some(adjusted.by_ref().take(metric.results.len()).collect());
    }
}

/// Every metric of experiment `key`, computed now; `sequential` for confidence sequences.
pub async fn experiment_results(
    state: &AppState,
    key: &str,
    sequential: bool,
) -> Result<Results, ApiError> {
    let definition: Experiment = experiment(state, key)?;
    query::read_your_writes(state).await;
    let variations = definition.variations.len();
    let units_rows = {
        let key = key.to_string();
        rows(state, |context| async move {
            exposures(&context, &key)
                .await?
                .aggregate(vec![col("variation")], vec![count(lit(1)).alias("n")])
        })
        .await?
    };
    let units: Vec<u64> = (0..variations)
        .map(|index| {
            units_rows
                .iter()
                .find(|row| row["variation"].as_u64() == Some(index as u64))
                .and_then(|row| row["n"].as_u64())
                .unwrap_or(0)
        })
        .collect();
    let weights = definition
        .weights
        .clone()
        .unwrap_or_else(|| equal_weights(variations));
    let srm_p_value = sample_ratio_mismatch(&units, &weights);
    let config = TestConfig {
        sequential_tuning: sequential.then_some(5_000.0),
        ..TestConfig::default()
    };
    let mut metrics = Vec::with_capacity(definition.metrics.len());
    for metric in &definition.metrics {
        let summary = {
            let (key, metric) = (key.to_string(), metric.clone());
            rows(state, |context| async move {
                let exposed = exposures(&context, &key).await?;
                summarise(&context, exposed, &metric).await
            })
            .await?
        };
        let statistics = statistics(&summary, variations, metric.kind);
        let results = statistics[1..]
            .iter()
            .map(|treatment| two_sided_test(&statistics[0], treatment, &config))
            .collect();
        metrics.push(MetricResults {
            name: metric.name.clone(),
            kind: metric.kind,
            statistics,
            results,
            adjusted_p_values: None,
        });
    }
    Ok(Results {
        units,
        srm_p_value,
        srm_warning: srm_p_value < SRM_THRESHOLD,
        metrics,
    })
}
