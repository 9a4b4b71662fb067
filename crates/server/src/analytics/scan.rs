//! Reading what an analysis needs: one DataFusion plan over the events, its rows grouped by
//! person, and the plan as SQL for `explain`.

use std::collections::HashMap;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, TimeUnit, UInt32Type};
use chrono::{Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use datafusion::dataframe::DataFrame;
use serde::Serialize;
use silta_store::{EventStore, StoreError};

use crate::{ApiError, AppState};

/// Longest date range an analysis covers.
const MAX_RANGE_DAYS: u64 = 3 * 366;

/// Local dates, both inclusive, in an IANA time zone (UTC by default).
#[derive(Debug, Clone)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: Option<String>,
}

impl DateRange {
    pub fn zone(&self) -> Result<Tz, ApiError> {
        let Some(name) = &self.time_zone else {
            return Ok(Tz::UTC);
        };
        name.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "unknown time zone '{name}': use an IANA name such as Europe/Berlin"
            ))
        })
    }

    /// `[start, end)` in microseconds: local midnight of `from` to local midnight after `to`.
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let zone = self.zone()?;
        if self.from > self.to {
            return Err(ApiError::bad_request(format!(
                "'from' ({}) is after 'to' ({})",
                self.from, self.to
            )));
        }
        if (self.to - self.from).num_days() as u64 >= MAX_RANGE_DAYS {
            return Err(ApiError::bad_request(format!(
                "a date range covers at most {MAX_RANGE_DAYS} days"
            )));
        }
        let after = self
            .to
            .checked_add_days(Days::new(1))
            .ok_or_else(|| ApiError::bad_request("'to' is out of range"))?;
        Ok((
            local_midnight(self.from, zone)?,
            local_midnight(after, zone)?,
        ))
    }

    /// The range of the same length just before this one.
    /// Where each day of the range starts, in microseconds: local midnights.
    pub fn day_starts(&self) -> Result<Vec<i64>, ApiError> {
        let zone = self.zone()?;
        self.from
            .iter_days()
            .take_while(|date| *date <= self.to)
            .map(|date| local_midnight(date, zone))
            .collect()
    }

    pub fn previous(&self) -> Result<DateRange, ApiError> {
        let days = Days::new((self.to - self.from).num_days() as u64 + 1);
        let out_of_range = || ApiError::bad_request("'from' is out of range");
        Ok(DateRange {
            from: self.from.checked_sub_days(days).ok_or_else(out_of_range)?,
            to: self.to.checked_sub_days(days).ok_or_else(out_of_range)?,
            time_zone: self.time_zone.clone(),
        })
    }
}

fn local_midnight(date: NaiveDate, zone: Tz) -> Result<i64, ApiError> {
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| ApiError::bad_request("date out of range"))?;
    // Where midnight does not exist (a DST gap), the day starts at the first valid instant.
    zone.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|moment| moment.timestamp_micros())
        .ok_or_else(|| ApiError::bad_request("date out of range"))
}

/// What `explain` shows: the SQL that read the events and how its rows were counted.
#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    pub sql: Vec<String>,
    pub counting: String,
}

/// The plan as SQL text (DataFusion's unparser), or as an indented plan where SQL has no form.
pub fn plan_text(frame: &DataFrame) -> String {
    let plan = frame.logical_plan();
    match datafusion::sql::unparser::plan_to_sql(plan) {
        Ok(statement) => statement.to_string(),
        Err(_) => plan.display_indent().to_string(),
    }
}

/// Runs `frame` and hands each batch to `each`.
pub async fn stream(
    state: &AppState,
    frame: DataFrame,
    each: impl FnMut(RecordBatch) -> Result<(), StoreError>,
) -> Result<(), ApiError> {
    EventStore::stream_frame(frame, &state.query_limits, each).await?;
    Ok(())
}

/// A column as persons (`profile_index`), null where the event has no known person.
pub fn persons(batch: &RecordBatch, index: usize) -> UInt32Array {
    batch.column(index).as_primitive::<UInt32Type>().clone()
}

pub fn timestamps(
    batch: &RecordBatch,
    index: usize,
) -> Result<TimestampMicrosecondArray, StoreError> {
    let column = arrow::compute::cast(
        batch.column(index),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    )?;
    Ok(column.as_primitive().clone())
}

/// A column as plain UTF-8 text, whatever string layout the reader chose.
pub fn texts(batch: &RecordBatch, index: usize) -> Result<StringArray, StoreError> {
    let column: ArrayRef = arrow::compute::cast(batch.column(index), &DataType::Utf8)?;
    Ok(column.as_string::<i32>().clone())
}

/// Strings numbered in order of first sight, so that millions of rows carry a `u32`.
#[derive(Debug, Default)]
pub struct Interner {
    numbers: HashMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    pub fn number(&mut self, value: &str) -> u32 {
        if let Some(number) = self.numbers.get(value) {
            return *number;
        }
        let number = self.values.len() as u32;
        self.numbers.insert(value.to_string(), number);
        self.values.push(value.to_string());
        number
    }

    pub fn value(&self, number: u32) -> &str {
        self.values.get(number as usize).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn into_values(self) -> Vec<String> {
        self.values
    }
}

/// Rows of many people: sorted by person, time and then `tie` (for rows at the same moment),
/// handed out person by person.
pub fn by_person<T: Copy>(
    mut rows: Vec<(u32, i64, T)>,
    tie: impl Fn(&T) -> u32,
    mut each: impl FnMut(&[(u32, i64, T)]),
) {
    rows.sort_unstable_by_key(|(person, at, payload)| (*person, *at, tie(payload)));
    for person_rows in rows.chunk_by(|a, b| a.0 == b.0) {
        each(person_rows);
    }
}

/// Each row of the batch whose person is known: `(row, person)`.
pub fn known_persons(persons: &UInt32Array) -> impl Iterator<Item = (usize, u32)> + '_ {
    (0..persons.len())
        .filter(|&row| persons.is_valid(row))
        .map(|row| (row, persons.value(row)))
}
