//! Events and quarantined events as Arrow record batches.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimestampMicrosecondType};
use arrow::error::ArrowError;
use chrono::{DateTime, NaiveDate, Utc};
use silta_model::{Event, Rejected, Violation, ViolationReport};
use silta_wal::Lsn;

use crate::StoreError;
use crate::schema::{EVENTS_SCHEMA, QUARANTINE_SCHEMA, VIOLATIONS_SCHEMA};

const UNIX_EPOCH_DAY: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

fn micros(time: &DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn days_since_epoch(time: &DateTime<Utc>) -> i32 {
    (time.date_naive() - UNIX_EPOCH_DAY).num_days() as i32
}

fn utc_timestamps(builder: TimestampMicrosecondBuilder) -> ArrayRef {
    let mut builder = builder;
    Arc::new(builder.finish().with_timezone("UTC"))
}

/// Builds one record batch in the `events` schema from events and their WAL positions.
pub fn events_batch(events: &[(Lsn, &Event)]) -> Result<RecordBatch, ArrowError> {
    let text_column = |value: &dyn Fn(&Event) -> Option<&str>| -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(events.len(), events.len() * 16);
        for (_, event) in events {
            builder.append_option(value(event));
        }
        Arc::new(builder.finish())
    };
    let time_column = |value: &dyn Fn(&Event) -> Option<&DateTime<Utc>>| -> ArrayRef {
        let mut builder = TimestampMicrosecondBuilder::with_capacity(events.len());
        for (_, event) in events {
            builder.append_option(value(event).map(micros));
        }
        utc_timestamps(builder)
    };
    let mut revenue = Float64Builder::with_capacity(events.len());
    let mut is_bot = BooleanBuilder::with_capacity(events.len());
    let mut lsn = Int64Builder::with_capacity(events.len());
    let mut event_date = Date32Builder::with_capacity(events.len());
    for (position, event) in events {
        revenue.append_option(event.revenue);
        is_bot.append_value(event.is_bot);
        lsn.append_option(i64::try_from(*position).ok());
        event_date.append_value(days_since_epoch(&event.timestamp));
    }
    let columns: Vec<ArrayRef> = vec![
        text_column(&|event| Some(&event.message_id)),
        text_column(&|event| Some(event.event_type.as_str())),
        text_column(&|event| event.event.as_deref()),
        text_column(&|event| event.name.as_deref()),
        text_column(&|event| event.user_id.as_deref()),
        text_column(&|event| event.anonymous_id.as_deref()),
        text_column(&|event| event.group_id.as_deref()),
        text_column(&|event| event.previous_id.as_deref()),
        time_column(&|event| Some(&event.timestamp)),
        time_column(&|event| event.original_timestamp.as_ref()),
        time_column(&|event| event.sent_at.as_ref()),
        time_column(&|event| Some(&event.received_at)),
        text_column(&|event| Some(&event.source_id)),
        text_column(&|event| Some(event.channel.as_str())),
        text_column(&|event| event.page_url.as_deref()),
        text_column(&|event| event.page_path.as_deref()),
        text_column(&|event| event.page_referrer.as_deref()),
        text_column(&|event| event.page_title.as_deref()),
        text_column(&|event| event.utm_source.as_deref()),
        text_column(&|event| event.utm_medium.as_deref()),
        text_column(&|event| event.utm_campaign.as_deref()),
        text_column(&|event| event.utm_term.as_deref()),
        text_column(&|event| event.utm_content.as_deref()),
        text_column(&|event| event.ip.as_deref()),
        text_column(&|event| event.user_agent.as_deref()),
        Arc::new(revenue.finish()),
        text_column(&|event| event.currency.as_deref()),
        text_column(&|event| Some(&event.properties)),
        text_column(&|event| Some(&event.traits)),
        text_column(&|event| Some(&event.context)),
        text_column(&|event| Some(&event.integrations)),
        Arc::new(is_bot.finish()),
        violations_column(events.iter().map(|(_, event)| event.violations.as_slice())),
        Arc::new(lsn.finish()),
        Arc::new(event_date.finish()),
    ];
    RecordBatch::try_new(EVENTS_SCHEMA.clone(), columns)
}

/// Violations as JSON text, null where there are none.
fn violations_column<'a>(rows: impl Iterator<Item = &'a [Violation]>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for violations in rows {
        builder.append_option(
            (!violations.is_empty())
                .then(|| serde_json::to_string(violations).ok())
                .flatten(),
        );
    }
    Arc::new(builder.finish())
}

/// Builds one record batch in the `quarantine` schema from refused events and their WAL
/// positions.
pub fn quarantine_batch(rejected: &[(Lsn, &Rejected)]) -> Result<RecordBatch, ArrowError> {
    let text_column = |value: &dyn Fn(&Rejected) -> Option<&str>| -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(rejected.len(), rejected.len() * 64);
        for (_, row) in rejected {
            builder.append_option(value(row));
        }
        Arc::new(builder.finish())
    };
    let mut received_at = TimestampMicrosecondBuilder::with_capacity(rejected.len());
    let mut lsn = Int64Builder::with_capacity(rejected.len());
    for (position, row) in rejected {
        received_at.append_value(micros(&row.received_at));
        lsn.append_option(i64::try_from(*position).ok());
    }
    let columns: Vec<ArrayRef> = vec![
        utc_timestamps(received_at),
        text_column(&|row| Some(&row.source_id)),
        text_column(&|row| row.message_id.as_deref()),
        text_column(&|row| Some(&row.reason)),
        text_column(&|row| Some(&row.payload)),
        violations_column(rejected.iter().map(|(_, row)| row.violations.as_slice())),
        Arc::new(lsn.finish()),
    ];
    RecordBatch::try_new(QUARANTINE_SCHEMA.clone(), columns)
}

/// Builds one record batch in the `violations` schema: a row per violation.
pub fn violations_batch(reports: &[(Lsn, &ViolationReport)]) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<(Lsn, &ViolationReport, &Violation)> = reports
        .iter()
        .flat_map(|(lsn, report)| {
            report
                .violations
                .iter()
                .map(move |violation| (*lsn, *report, violation))
        })
        .collect();
    let text_column = |value: &dyn Fn(&ViolationReport, &Violation) -> Option<String>| -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(rows.len(), rows.len() * 16);
        for (_, report, violation) in &rows {
            builder.append_option(value(report, violation));
        }
        Arc::new(builder.finish())
    };
    let mut received_at = TimestampMicrosecondBuilder::with_capacity(rows.len());
    let mut plan_version = Int64Builder::with_capacity(rows.len());
    let mut lsn = Int64Builder::with_capacity(rows.len());
    for (position, report, _) in &rows {
        received_at.append_value(micros(&report.received_at));
        plan_version.append_value(i64::from(report.plan_version));
        lsn.append_value(i64::try_from(*position).unwrap_or(i64::MAX));
    }
    let columns: Vec<ArrayRef> = vec![
        utc_timestamps(received_at),
        text_column(&|report, _| Some(report.source_id.clone())),
        text_column(&|report, _| Some(report.message_id.clone())),
        text_column(&|report, _| Some(report.event_type.to_string())),
        text_column(&|report, _| report.event.clone()),
        text_column(&|report, _| Some(report.plan.clone())),
        Arc::new(plan_version.finish()),
        text_column(&|report, _| Some(report.mode.as_str().to_string())),
        text_column(&|_, violation| Some(violation.kind.to_string())),
        text_column(&|_, violation| Some(violation.field.clone())),
        text_column(&|_, violation| Some(violation.message.clone())),
        Arc::new(lsn.finish()),
    ];
    RecordBatch::try_new(VIOLATIONS_SCHEMA.clone(), columns)
}

/// Reads events back from a batch with (at least) the `events` table's columns.
pub fn events_from_batch(batch: &RecordBatch) -> Result<Vec<Event>, StoreError> {
    let text = |name: &'static str| -> Result<ArrayRef, StoreError> {
        let column = batch
            .column_by_name(name)
            .ok_or(StoreError::UnexpectedColumns("events"))?;
        Ok(cast(column, &DataType::Utf8)?)
    };
    let time = |name: &'static str| -> Result<&TimestampMicrosecondArray, StoreError> {
        batch
            .column_by_name(name)
            .and_then(|column| column.as_primitive_opt::<TimestampMicrosecondType>())
            .ok_or(StoreError::UnexpectedColumns("events"))
    };
    let columns: Vec<ArrayRef> = TEXT_COLUMNS
        .iter()
        .map(|name| text(name))
        .collect::<Result<_, _>>()?;
    let strings: Vec<&StringArray> = columns
        .iter()
        .map(|column| column.as_string_opt::<i32>())
        .collect::<Option<_>>()
        .ok_or(StoreError::UnexpectedColumns("events"))?;
    let [timestamp, original_timestamp, sent_at, received_at] = [
        time("timestamp")?,
        time("original_timestamp")?,
        time("sent_at")?,
        time("received_at")?,
    ];
    let revenue = batch
        .column_by_name("revenue")
        .and_then(|column| column.as_primitive_opt::<Float64Type>())
        .ok_or(StoreError::UnexpectedColumns("events"))?;
    // Absent when a query did not select it: not flagged.
    let is_bot = batch
        .column_by_name("is_bot")
        .and_then(|column| column.as_boolean_opt());
    let violations = batch
        .column_by_name("violations")
        .map(|column| cast(column, &DataType::Utf8))
        .transpose()?;
    let violations = violations
        .as_ref()
        .and_then(|column| column.as_string_opt::<i32>());
    let mut events = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let optional = |column: usize| -> Option<String> {
            let array = strings[column];
            (!array.is_null(row)).then(|| array.value(row).to_string())
        };
        let required = |column: usize| optional(column).unwrap_or_default();
        let at = |array: &TimestampMicrosecondArray| -> Option<DateTime<Utc>> {
            (!array.is_null(row))
                .then(|| DateTime::from_timestamp_micros(array.value(row)))
                .flatten()
        };
        let event_type = required(1)
            .parse()
            .map_err(|_| StoreError::UnexpectedColumns("events"))?;
        let channel = required(9)
            .parse()
            .map_err(|_| StoreError::UnexpectedColumns("events"))?;
        events.push(Event {
            message_id: required(0),
            event_type,
            event: optional(2),
            name: optional(3),
            user_id: optional(4),
            anonymous_id: optional(5),
            group_id: optional(6),
            previous_id: optional(7),
            timestamp: at(timestamp).unwrap_or_default(),
            original_timestamp: at(original_timestamp),
            sent_at: at(sent_at),
            received_at: at(received_at).unwrap_or_default(),
            source_id: required(8),
            channel,
            page_url: optional(10),
            page_path: optional(11),
            page_referrer: optional(12),
            page_title: optional(13),
            utm_source: optional(14),
            utm_medium: optional(15),
            utm_campaign: optional(16),
            utm_term: optional(17),
            utm_content: optional(18),
            ip: optional(19),
            user_agent: optional(20),
            revenue: (!revenue.is_null(row)).then(|| revenue.value(row)),
            currency: optional(21),
            properties: required(22),
            traits: required(23),
            context: required(24),
            integrations: required(25),
            is_bot: is_bot.is_some_and(|flags| flags.is_valid(row) && flags.value(row)),
            violations: violations
                .filter(|column| column.is_valid(row))
                .and_then(|column| serde_json::from_str(column.value(row)).ok())
                .unwrap_or_default(),
        });
    }
    Ok(events)
}

/// The text columns [`events_from_batch`] reads, in the order it indexes them.
pub const TEXT_COLUMNS: [&str; 26] = [
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    "source",
    "channel",
    "page_url",
    "page_path",
    "page_referrer",
    "page_title",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "ip",
    "user_agent",
    "currency",
    "properties",
    "traits",
    "context",
    "integrations",
];
