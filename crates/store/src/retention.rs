//! Retention: events, quarantined events and violations older than a policy allows are
//! deleted, with the files and log entries that held them.

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::prelude::{col, lit};
use datafusion::scalar::ScalarValue;

use crate::schema::EVENT_DATE_COLUMN;
use crate::store::Pick;
use crate::{Erased, EventStore, StoreError};

impl EventStore {
    /// Deletes events that happened before `events_before` (whole days, by partition) and
    /// quarantined events and violations received before `quarantine_before`.
    pub async fn apply_retention(
        &self,
        events_before: Option<NaiveDate>,
        quarantine_before: Option<DateTime<Utc>>,
    ) -> Result<Erased, StoreError> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let events = events_before.map(|date| {
            let days = (date - epoch).num_days() as i32;
            col(EVENT_DATE_COLUMN).lt(lit(ScalarValue::Date32(Some(days))))
        });
        let received_before = quarantine_before.map(|time| {
            col("received_at").lt(lit(ScalarValue::TimestampMicrosecond(
                Some(time.timestamp_micros()),
                Some("UTC".into()),
            )))
        });
        Ok(self
            .purge_tables([
                (Pick::Events, events),
                (Pick::Quarantine, received_before.clone()),
                (Pick::Violations, received_before),
            ])
            .await?
            .1)
    }
}
