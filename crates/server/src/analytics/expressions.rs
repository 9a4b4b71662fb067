//! Conditions of analyses as DataFusion expressions. User values become literals, never SQL
//! text, and a field that is missing from an event never matches.

use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{SessionContext, coalesce, col, lit};
use datafusion::scalar::ScalarValue;
use silta_analytics::{Comparison, Field, Filter};

/// A function registered in the session (JSON access, `profile_index`, ...), called.
pub fn function(
    context: &SessionContext,
    name: &str,
    arguments: Vec<Expr>,
) -> Result<Expr, DataFusionError> {
    Ok(context.udf(name)?.call(arguments))
}

fn json_arguments(column: &str, path: &[String]) -> Vec<Expr> {
    std::iter::once(col(column))
        .chain(path.iter().map(|segment| lit(segment.clone())))
        .collect()
}

/// `column.path` of a JSON text column as text, null where it is missing.
pub fn json_text(
    context: &SessionContext,
    column: &str,
    path: &[String],
) -> Result<Expr, DataFusionError> {
    function(context, "json_as_text", json_arguments(column, path))
}

/// The field's value as text (numbers and booleans of JSON documents as written), for grouping.
pub fn field_text(context: &SessionContext, field: &Field) -> Result<Expr, DataFusionError> {
    match field {
        Field::Column(name) if name == "revenue" => Ok(datafusion::prelude::cast(
            col("revenue"),
            arrow::datatypes::DataType::Utf8,
        )),
        Field::Column(name) => Ok(col(name.as_str())),
        Field::Json { document, path } => json_text(context, document.column(), path),
    }
}

pub fn compare(left: Expr, op: Comparison, right: Expr) -> Expr {
    match op {
        Comparison::Eq => left.eq(right),
        Comparison::Ne => left.not_eq(right),
        Comparison::Gt => left.gt(right),
        Comparison::Gte => left.gt_eq(right),
        Comparison::Lt => left.lt(right),
        Comparison::Lte => left.lt_eq(right),
        Comparison::Contains => datafusion::functions::expr_fn::contains(left, right),
    }
}

fn literal(value: &serde_json::Value) -> Result<Expr, DataFusionError> {
    use serde_json::Value;
    match value {
        Value::String(text) => Ok(lit(text.clone())),
        Value::Number(number) => Ok(lit(number.as_f64().unwrap_or(f64::NAN))),
        Value::Bool(flag) => Ok(lit(*flag)),
        other => Err(DataFusionError::Plan(format!(
            "value {other} is not a string, number or boolean"
        ))),
    }
}

/// `document.path op value` for a JSON text column, read as the value's type.
pub fn compare_json(
    context: &SessionContext,
    column: &str,
    path: &[String],
    op: Comparison,
    value: &serde_json::Value,
) -> Result<Expr, DataFusionError> {
    let getter = match value {
        serde_json::Value::Number(_) => "json_get_float",
        serde_json::Value::Bool(_) => "json_get_bool",
        _ => "json_get_str",
    };
    Ok(compare(
        function(context, getter, json_arguments(column, path))?,
        op,
        literal(value)?,
    ))
}

/// `field op value` as a boolean expression.
pub fn filter(context: &SessionContext, filter: &Filter) -> Result<Expr, DataFusionError> {
    let value = literal(&filter.value)?;
    let column = match &filter.field {
        Field::Column(name) => name.as_str(),
        Field::Json { document, path } => {
            return compare_json(context, document.column(), path, filter.op, &filter.value);
        }
    };
    let left = if column == "revenue" {
        if !filter.value.is_number() {
            return Err(DataFusionError::Plan(
                "revenue compares with numbers".to_string(),
            ));
        }
        col("revenue")
    } else if filter.value.is_number() {
        datafusion::prelude::try_cast(col(column), arrow::datatypes::DataType::Float64)
    } else if filter.value.is_boolean() {
        return Ok(compare(
            col(column),
            filter.op,
            lit(filter.value.to_string()),
        ));
    } else {
        col(column)
    };
    Ok(compare(left, filter.op, value))
}

/// An event named `name` (any event without one) that passes every filter.
pub fn event_match(
    context: &SessionContext,
    name: Option<&str>,
    filters: &[Filter],
) -> Result<Expr, DataFusionError> {
    let mut condition = name.map_or(lit(true), |name| col("event").eq(lit(name.to_string())));
    for each in filters {
        condition = condition.and(filter(context, each)?);
    }
    Ok(coalesce(vec![condition, lit(false)]))
}

/// Events not flagged as made by bots: analyses count people.
pub fn not_bot() -> Expr {
    coalesce(vec![col("is_bot"), lit(false)]).eq(lit(false))
}

pub fn timestamp(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(micros),
        Some("UTC".into()),
    ))
}

/// Events received at or after `since`.
pub fn received_since(since: chrono::DateTime<chrono::Utc>) -> Expr {
    col("received_at").gt_eq(timestamp(since.timestamp_micros()))
}

const UNIX_EPOCH_DAY: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// Days since 1970-01-01, as Arrow's `Date32` counts.
pub fn epoch_days(date: NaiveDate) -> i32 {
    (date - UNIX_EPOCH_DAY).num_days() as i32
}

/// A date as a `Date32` literal.
pub fn date(date: NaiveDate) -> Expr {
    lit(ScalarValue::Date32(Some(epoch_days(date))))
}

/// `[start, end)` on the event time, with the date partitions outside it pruned.
pub fn time_range(start_micros: i64, end_micros: i64) -> Expr {
    let day = |micros: i64| {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|moment| moment.date_naive())
            .unwrap_or(NaiveDate::MIN)
    };
    col("event_date")
        .gt_eq(date(day(start_micros)))
        .and(col("event_date").lt_eq(date(day(end_micros))))
        .and(col("timestamp").gt_eq(timestamp(start_micros)))
        .and(col("timestamp").lt(timestamp(end_micros)))
}

/// The event's person as a number (see `profile_index` in the identity tables).
pub fn person(context: &SessionContext) -> Result<Expr, DataFusionError> {
    function(
        context,
        "profile_index",
        vec![col("user_id"), col("anonymous_id")],
    )
}
