//! Events and quarantined events as Arrow record batches.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::error::ArrowError;
use chrono::{DateTime, NaiveDate, Utc};
use silta_model::{Event, Rejected};

use crate::schema::{EVENTS_SCHEMA, QUARANTINE_SCHEMA};

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

/// Builds one record batch in the `events` schema.
pub fn events_batch(events: &[&Event]) -> Result<RecordBatch, ArrowError> {
    let text_column = |value: &dyn Fn(&Event) -> Option<&str>| -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(events.len(), events.len() * 16);
        for event in events {
            builder.append_option(value(event));
        }
        Arc::new(builder.finish())
    };
    let time_column = |value: &dyn Fn(&Event) -> Option<&DateTime<Utc>>| -> ArrayRef {
        let mut builder = TimestampMicrosecondBuilder::with_capacity(events.len());
        for event in events {
            builder.append_option(value(event).map(micros));
        }
        utc_timestamps(builder)
    };
    let mut revenue = Float64Builder::with_capacity(events.len());
    let mut event_date = Date32Builder::with_capacity(events.len());
    for event in events {
        revenue.append_option(event.revenue);
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
        Arc::new(event_date.finish()),
    ];
    RecordBatch::try_new(EVENTS_SCHEMA.clone(), columns)
}

/// Builds one record batch in the `quarantine` schema.
pub fn quarantine_batch(rejected: &[&Rejected]) -> Result<RecordBatch, ArrowError> {
    let text_column = |value: &dyn Fn(&Rejected) -> Option<&str>| -> ArrayRef {
        let mut builder = StringBuilder::with_capacity(rejected.len(), rejected.len() * 64);
        for row in rejected {
            builder.append_option(value(row));
        }
        Arc::new(builder.finish())
    };
    let mut received_at = TimestampMicrosecondBuilder::with_capacity(rejected.len());
    for row in rejected {
        received_at.append_value(micros(&row.received_at));
    }
    let columns: Vec<ArrayRef> = vec![
        utc_timestamps(received_at),
        text_column(&|row| Some(&row.source_id)),
        text_column(&|row| row.message_id.as_deref()),
        text_column(&|row| Some(&row.reason)),
        text_column(&|row| Some(&row.payload)),
    ];
    RecordBatch::try_new(QUARANTINE_SCHEMA.clone(), columns)
}
