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
    BayesianConfig, BayesianResult, Component, Experiment, Metric, MetricKind, Statistic,
    TestConfig, TestResult, benjamini_hochberg, equal_weights, holm_bonferroni,
    sample_ratio_mismatch,
};
use silta_state::Permission;

use crate::analytics::expressions::function;
use crate::experiments::{SRM_THRESHOLD, against_control, experiment};
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
    /// CUPED: adjust each metric by the same metric over the window before exposure.
    #[serde(default)]
    cuped: bool,
    /// Add the Bayesian answer (chance to win, risk, credible interval) beside the frequentist.
    #[serde(default)]
    bayesian: bool,
}

/// How the results are computed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResultsOptions {
    pub sequential: bool,
    pub cuped: bool,
    pub bayesian: bool,
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
    /// With `bayesian`: each variation after control against control, from the posterior.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bayesian: Option<Vec<BayesianResult>>,
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

/// `variation`, `n`, `sum`, `sum_squares` of the metric's value per exposed person; for a ratio
/// also `den_sum`, `den_sum_squares` and `den_products` of the denominator's value; with `cuped`
/// also `pre_sum`, `pre_sum_squares` and `products` of the value over the same window before
/// exposure.
async fn summarise(
    context: &SessionContext,
    exposed: DataFrame,
    metric: &Metric,
    cuped: bool,
) -> Result<DataFrame, DataFusionError> {
    let person = function(
        context,
        "profile_id",
        vec![col("user_id"), col("anonymous_id")],
    )?;
    // A property's value, or 1 per event to count.
    let worth = |property: &Option<String>| match property {
        Some(property) => function(
            context,
            "json_get_float",
            vec![col("properties"), lit(property.clone())],
        ),
        None => Ok(lit(1.0)),
    };
    let is = |event: &str| col("event").eq(lit(event.to_string()));
    let ratio = metric
        .denominator
        .as_ref()
        .filter(|_| metric.kind == MetricKind::Ratio);
    let mut columns = vec![person.alias("mpid"), col("timestamp").alias("at")];
    let mut wanted = is(&metric.event);
    match ratio {
        Some(denominator) => {
            // Numerator and denominator events in one scan, each value on its own rows.
            columns.push(
                when(is(&metric.event), worth(&metric.property)?)
                    .end()?
                    .alias("value"),
            );
            columns.push(
                when(is(&denominator.event), worth(&denominator.property)?)
                    .end()?
                    .alias("den_value"),
            );
            wanted = wanted.or(is(&denominator.event));
        }
        None if metric.kind == MetricKind::Mean => {
            columns.push(worth(&metric.property)?.alias("value"));
        }
        None => columns.push(lit(1.0).alias("value")),
    }
    let happened = context
        .table("events")
        .await?
        .filter(wanted)?
        .select(columns)?;
    let window = lit(ScalarValue::new_interval_mdn(
        0,
        0,
        i64::from(metric.window_hours) * 3_600 * 1_000_000_000,
    ));
    let from = if cuped {
        col("exposed_at") - window.clone()
    } else {
        col("exposed_at")
    };
    let after = col("at").gt_eq(col("exposed_at"));
    let before = col("at").lt(col("exposed_at"));
    let mut per_period = vec![
        sum(when(after.clone(), lit(1_i64)).otherwise(lit(0_i64))?).alias("events"),
        sum(when(after.clone(), col("value")).end()?).alias("total"),
    ];
    if ratio.is_some() {
        per_period.push(sum(when(after, col("den_value")).end()?).alias("den_total"));
    }
    if cuped {
        per_period
            .push(sum(when(before.clone(), lit(1_i64)).otherwise(lit(0_i64))?).alias("pre_events"));
        per_period.push(sum(when(before, col("value")).end()?).alias("pre_total"));
    }
    let per_person = exposed
        .join_on(
            happened,
            JoinType::Left,
            [
                col("pid").eq(col("mpid")),
                col("at").gt_eq(from),
                col("at").lt(col("exposed_at") + window),
            ],
        )?
        .aggregate(vec![col("pid"), col("variation")], per_period)?;
    let value_of = |events: &str, total: &str| -> Result<_, DataFusionError> {
        let raw = match metric.kind {
            MetricKind::Conversion => when(col(events).gt(lit(0)), lit(1.0)).otherwise(lit(0.0))?,
            MetricKind::Count => cast(col(events), arrow::datatypes::DataType::Float64),
            MetricKind::Mean | MetricKind::Ratio => coalesce(vec![col(total), lit(0.0)]),
        };
        Ok(match metric.cap {
            Some(cap) => when(raw.clone().gt(lit(cap)), lit(cap)).otherwise(raw)?,
            None => raw,
        })
    };
    let mut values = vec![col("variation"), value_of("events", "total")?.alias("v")];
    let mut sums = vec![
        count(lit(1)).alias("n"),
        sum(col("v")).alias("sum"),
        sum(col("v") * col("v")).alias("sum_squares"),
    ];
    if ratio.is_some() {
        values.push(coalesce(vec![col("den_total"), lit(0.0)]).alias("d"));
        sums.push(sum(col("d")).alias("den_sum"));
        sums.push(sum(col("d") * col("d")).alias("den_sum_squares"));
        sums.push(sum(col("v") * col("d")).alias("den_products"));
    }
    if cuped {
        values.push(value_of("pre_events", "pre_total")?.alias("pre"));
        sums.push(sum(col("pre")).alias("pre_sum"));
        sums.push(sum(col("pre") * col("pre")).alias("pre_sum_squares"));
        sums.push(sum(col("v") * col("pre")).alias("products"));
    }
    per_person
        .select(values)?
        .aggregate(vec![col("variation")], sums)
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

/// The summary statistics per variation, control first; regression-adjusted with `cuped`.
fn statistics(
    rows: &[serde_json::Value],
    variations: usize,
    kind: MetricKind,
    cuped: bool,
) -> Vec<Statistic> {
    (0..variations)
        .map(|index| {
            let row = rows
                .iter()
                .find(|row| row["variation"].as_u64() == Some(index as u64));
            let field = |name: &str| row.and_then(|row| row[name].as_f64()).unwrap_or(0.0);
            let n = row.and_then(|row| row["n"].as_u64()).unwrap_or(0);
            let component = |sum: &str, sum_squares: &str| match kind {
                MetricKind::Conversion => Component::Proportion { sum: field(sum) },
                MetricKind::Count | MetricKind::Mean | MetricKind::Ratio => Component::Mean {
                    sum: field(sum),
                    sum_squares: field(sum_squares),
                },
            };
            if kind == MetricKind::Ratio {
                return Statistic::Ratio {
                    n,
                    numerator: component("sum", "sum_squares"),
                    denominator: component("den_sum", "den_sum_squares"),
                    sum_of_products: field("den_products"),
                };
            }
            match (cuped, component("sum", "sum_squares")) {
                (true, post) => Statistic::RegressionAdjusted {
                    n,
                    post,
                    pre: component("pre_sum", "pre_sum_squares"),
                    post_pre_sum_of_products: field("products"),
                },
                (false, Component::Proportion { sum }) => Statistic::Proportion { n, sum },
                (false, Component::Mean { sum, sum_squares }) => Statistic::Mean {
                    n,
                    sum,
                    sum_squares,
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
    let Query(query) = options?;
    let options = ResultsOptions {
        sequential: query.sequential,
        cuped: query.cuped,
        bayesian: query.bayesian,
    };
    let mut results = experiment_results(&state, &key, options).await?;
    if let Some(correction) = query.correction {
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

/// Every metric of experiment `key`, computed now.
pub async fn experiment_results(
    state: &AppState,
    key: &str,
    options: ResultsOptions,
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
        sequential_tuning: options.sequential.then_some(5_000.0),
        ..TestConfig::default()
    };
    let mut metrics = Vec::with_capacity(definition.metrics.len());
    for metric in &definition.metrics {
        // CUPED adjusts means and proportions; a ratio stays as it is.
        let cuped = options.cuped && metric.kind != MetricKind::Ratio;
        let summary = {
            let (key, metric) = (key.to_string(), metric.clone());
            rows(state, |context| async move {
                let exposed = exposures(&context, &key).await?;
                summarise(&context, exposed, &metric, cuped).await
            })
            .await?
        };
        let statistics = statistics(&summary, variations, metric.kind, cuped);
        let (results, bayesian) = against_control(
            &statistics,
            &config,
            options.bayesian.then_some(&BayesianConfig::default()),
        );
        metrics.push(MetricResults {
            name: metric.name.clone(),
            kind: metric.kind,
            statistics,
            results,
            adjusted_p_values: None,
            bayesian,
        });
    }
    Ok(Results {
        units,
        srm_p_value,
        srm_warning: srm_p_value < SRM_THRESHOLD,
        metrics,
    })
}
