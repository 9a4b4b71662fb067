//! What a media-mix fit reads: spend per day and channel from the `spend` table or from the
//! cost of ad-server events, the KPI per day from the event store or a CSV, and control
//! variables from a CSV.

use arrow::array::{Array, AsArray, Date32Array};
use arrow::datatypes::{Date32Type, Float64Type};
use chrono::{Duration, NaiveDate};
use datafusion::dataframe::DataFrame;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::prelude::{Expr, SessionContext, cast, coalesce, col, lit};
use serde::{Deserialize, Serialize};
use silta_mmm::{Granularity, MediaData, Observation, Prepared};

use crate::analytics::expressions::{date, function, json_text, not_bot};
use crate::analytics::scan;
use crate::{ApiError, AppState};

/// Rows read from one CSV at most.
const MAX_CSV_ROWS: usize = 200_000;
/// Problems reported at most in one answer.
const MAX_PROBLEMS: usize = 20;

/// Event names a spend source may name at most.
const MAX_SPEND_EVENTS: usize = 20;

/// Where spend comes from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source", deny_unknown_fields)]
pub enum SpendSource {
    /// The `spend` table (`PUT /v1/spend`), summed over campaigns.
    #[default]
    Table,
    /// The cost an ad server reports on its events (e.g. `Ad Impression` with
    /// `properties.cost` and `properties.channel`), summed per day and channel, bot traffic
    /// included: it was paid for.
    Events {
        events: Vec<String>,
        #[serde(default = "default_channel_property")]
        channel_property: String,
        #[serde(default = "default_cost_property")]
        cost_property: String,
    },
}

fn default_channel_property() -> String {
    "channel".into()
}

fn default_cost_property() -> String {
    "cost".into()
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().count() <= 200
}

/// Where the KPI comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source", deny_unknown_fields)]
pub enum KpiSource {
    /// Per day, the revenue (or the number) of one event in the event store; bots left out.
    Events {
        event: String,
        #[serde(default)]
        measure: Measure,
    },
    /// `date,value` rows, one or more per day (summed).
    Csv { csv: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    #[default]
    Revenue,
    Count,
}

impl KpiSource {
    pub fn describe(&self) -> String {
        match self {
            KpiSource::Events { event, measure } => {
                let measure = match measure {
                    Measure::Revenue => "revenue",
                    Measure::Count => "count",
                };
                format!("{measure} of \"{event}\" events")
            }
            KpiSource::Csv { .. } => "KPI from CSV".to_string(),
        }
    }
}

/// The days a fit covers: from the first to the last day of the `spend` table, narrowed by
/// the request.
#[derive(Debug, Clone, Copy)]
pub struct Days {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn date_of(days: &Date32Array, row: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
        + Duration::days(i64::from(days.value(row)))
}

/// Spend per day and channel.
pub async fn spend(
    state: &AppState,
    source: &SpendSource,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Vec<Observation>, Days), ApiError> {
    if matches!(source, SpendSource::Events { .. }) {
        // Before the session: its snapshot holds what is applied when it is made.
        crate::query::read_your_writes(state).await;
    }
    let context = state.store.session(&state.query_limits)?;
    let frame = match source {
        SpendSource::Table => {
            let table = context.table("spend").await.map_err(|_| {
                ApiError::bad_request("there is no spend yet: load it with PUT /v1/spend first")
            })?;
            table.filter(within(col("date"), from, to))?.aggregate(
                vec![col("date"), col("channel")],
                vec![sum(col("spend")).alias("spend")],
            )?
        }
        SpendSource::Events {
            events,
            channel_property,
            cost_property,
        } => cost_per_day(&context, events, channel_property, cost_property, from, to).await?,
    };
    let mut rows = Vec::new();
    scan::stream(state, frame, |batch| {
        let dates = batch.column(0).as_primitive::<Date32Type>();
        let channels = scan::texts(&batch, 1)?;
        let amounts = batch.column(2).as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            if dates.is_valid(row) && channels.is_valid(row) && amounts.is_valid(row) {
                rows.push(Observation::new(
                    date_of(dates, row),
                    channels.value(row),
                    amounts.value(row),
                ));
            }
        }
        Ok(())
    })
    .await?;
    let (Some(first), Some(last)) = (
        rows.iter().map(|row| row.date).min(),
        rows.iter().map(|row| row.date).max(),
    ) else {
        return Err(ApiError::bad_request(
            "there is no spend on the requested dates",
        ));
    };
    Ok((
        rows,
        Days {
            from: first,
            to: last,
        },
    ))
}

/// `date, channel, spend`: the cost on the named events per day and channel.
async fn cost_per_day(
    context: &SessionContext,
    events: &[String],
    channel_property: &str,
    cost_property: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<DataFrame, ApiError> {
    if events.is_empty() || events.len() > MAX_SPEND_EVENTS {
        return Err(ApiError::bad_request(format!(
            "spend.events must name 1 to {MAX_SPEND_EVENTS} events"
        )));
    }
    if !events.iter().all(|event| is_name(event))
        || !is_name(channel_property)
        || !is_name(cost_property)
    {
        return Err(ApiError::bad_request(
            "spend event and property names must be 1 to 200 characters",
        ));
    }
    let channel = json_text(context, "properties", &[channel_property.to_string()])?;
    let cost = function(
        context,
        "json_get_float",
        vec![col("properties"), lit(cost_property.to_string())],
    )?;
    let named = events.iter().map(|event| lit(event.clone())).collect();
    Ok(context
        .table("events")
        .await?
        .filter(
            // Bots are not left out: an impression a bot saw was paid for all the same.
            col("event")
                .in_list(named, false)
                .and(within(col("event_date"), from, to)),
        )?
        .select(vec![
            col("event_date").alias("date"),
            channel.alias("channel"),
            cost.alias("cost"),
        ])?
        .filter(col("channel").is_not_null().and(col("cost").is_not_null()))?
        .aggregate(
            vec![col("date"), col("channel")],
            vec![sum(col("cost")).alias("spend")],
        )?)
}

/// `column` between the optional first and last day, both inclusive.
fn within(column: Expr, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Expr {
    let mut condition = lit(true);
    if let Some(from) = from {
        condition = condition.and(column.clone().gt_eq(date(from)));
    }
    if let Some(to) = to {
        condition = condition.and(column.lt_eq(date(to)));
    }
    condition
}

/// The KPI per day; from the event store every day of `days` has a value (0 without events).
pub async fn kpi(
    state: &AppState,
    source: &KpiSource,
    days: Days,
) -> Result<Vec<Observation>, ApiError> {
    let (event, measure) = match source {
        KpiSource::Csv { csv } => return parse_csv(csv, "KPI", &["date", "value"], false),
        KpiSource::Events { event, measure } => (event, *measure),
    };
    if !is_name(event) {
        return Err(ApiError::bad_request(
            "kpi.event must be 1 to 200 characters",
        ));
    }
    crate::query::read_your_writes(state).await;
    let context = state.store.session(&state.query_limits)?;
    let value = match measure {
        Measure::Revenue => sum(coalesce(vec![col("revenue"), lit(0.0)])),
        Measure::Count => cast(count(lit(1)), arrow::datatypes::DataType::Float64),
    };
    let frame = context
        .table("events")
        .await?
        .filter(
            col("event")
                .eq(lit(event.clone()))
                .and(not_bot())
                .and(within(col("event_date"), Some(days.from), Some(days.to))),
        )?
        .aggregate(vec![col("event_date")], vec![value.alias("value")])?;
    let mut by_day = std::collections::BTreeMap::new();
    scan::stream(state, frame, |batch| {
        let dates = batch.column(0).as_primitive::<Date32Type>();
        let values = batch.column(1).as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            if dates.is_valid(row) && values.is_valid(row) {
                by_day.insert(date_of(dates, row), values.value(row));
            }
        }
        Ok(())
    })
    .await?;
    Ok(days
        .from
        .iter_days()
        .take_while(|day| *day <= days.to)
        .map(|day| Observation::new(day, "", by_day.get(&day).copied().unwrap_or(0.0)))
        .collect())
}

/// Controls as `date,control,value` rows.
pub fn controls(csv: Option<&str>) -> Result<Vec<Observation>, ApiError> {
    csv.map_or(Ok(Vec::new()), |csv| {
        parse_csv(csv, "controls", &["date", "control", "value"], true)
    })
}

/// Reads `date,value` (or `date,name,value` when `named`) rows; every problem is reported with
/// its line.
fn parse_csv(
    text: &str,
    what: &str,
    header: &[&str],
    named: bool,
) -> Result<Vec<Observation>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| ApiError::bad_request(format!("{what} CSV, line 1: {error}")))?
        .clone();
    let columns: Option<Vec<usize>> = header
        .iter()
        .map(|name| headers.iter().position(|found| found == *name))
        .collect();
    let Some(columns) = columns else {
        return Err(ApiError::bad_request(format!(
            "{what} CSV: the header must name {}",
            header.join(", ")
        )));
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        if rows.len() >= MAX_CSV_ROWS {
            problems.push(format!("line {line}: more than {MAX_CSV_ROWS} rows"));
            break;
        }
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                problems.push(format!("line {line}: {error}"));
                continue;
            }
        };
        let field = |at: usize| record.get(columns[at]).unwrap_or("");
        let day = NaiveDate::parse_from_str(field(0), "%Y-%m-%d");
        let value = field(columns.len() - 1)
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite());
        let name = if named { field(1) } else { "" };
        match (day, value) {
            (Ok(day), Some(value)) if !named || (1..=200).contains(&name.chars().count()) => {
                rows.push(Observation::new(day, name, value));
            }
            (Err(_), _) => problems.push(format!("line {line}: date must be YYYY-MM-DD")),
            (_, None) => problems.push(format!("line {line}: value must be a number")),
            _ => problems.push(format!("line {line}: control must be 1 to 200 characters")),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::bad_request(format!(
            "{what} CSV: {}",
            problems.join("; ")
        )));
    }
    Ok(rows)
}

/// Everything aligned into periods.
pub fn align(
    granularity: Granularity,
    spend: &[Observation],
    kpi: &[Observation],
    controls: &[Observation],
    days: Days,
) -> Result<Prepared, ApiError> {
    let in_days = |row: &&Observation| row.date >= days.from && row.date <= days.to;
    let kpi: Vec<Observation> = kpi.iter().filter(in_days).cloned().collect();
    MediaData::from_observations(granularity, spend, &kpi, controls)
        .map_err(|error| ApiError::bad_request(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_read_and_every_bad_line_is_named() {
        let rows = parse_csv(
            "date,value\n2026-01-05,10.5\n2026-01-06,3\n",
            "KPI",
            &["date", "value"],
            false,
        )
        .expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].value, 10.5);
        let error = parse_csv(
            "date,control,value\n2026-13-01,price,1\n2026-01-02,,1\n2026-01-03,price,NaN\n",
            "controls",
            &["date", "control", "value"],
            true,
        )
        .expect_err("invalid");
        for line in ["line 2", "line 3", "line 4"] {
            assert!(error.message.contains(line), "{}", error.message);
        }
        assert!(parse_csv("day,amount\n", "KPI", &["date", "value"], false).is_err());
    }
}
