//! The apply stage: durable WAL records become buffered rows, duplicates are dropped.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimestampMicrosecondType};
use chrono::Utc;
use silta_model::{Event, Ingested, Rejected, ViolationReport};
use silta_wal::{Durable, Lsn, RecoveredRecord};
use tokio::sync::mpsc;

use crate::dedupe::{self, DedupeIndex};
use crate::query::QueryLimits;
use crate::rows::{events_batch, quarantine_batch, violations_batch};
use crate::{EventStore, StoreError};

/// WAL records decoded and applied at a time during recovery.
const RECOVERY_CHUNK: usize = 10_000;

/// How often stale entries leave the dedupe index.
const DEDUPE_PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Told about every event the moment it is applied, in log order (identity resolution, the
/// destinations' outbox). An error stops the apply stage before the events are buffered, so
/// they stay in the WAL for the next start.
pub trait AppliedEvents: Send + Sync {
    fn applied(&self, events: &[&Event]) -> Result<(), String>;
}

pub struct Applier {
    store: Arc<EventStore>,
    observers: Vec<Arc<dyn AppliedEvents>>,
    dedupe: DedupeIndex,
    /// Records at or below these positions are already in the tables (set at open, for replay).
    events_persisted_lsn: Lsn,
    quarantine_persisted_lsn: Lsn,
    violations_persisted_lsn: Lsn,
    last_prune: Instant,
}

impl Applier {
    /// Prepares the apply stage, loading the dedupe index with the ids the `events` table
    /// received within the dedupe window, so duplicates are caught across restarts.
    pub async fn new(store: Arc<EventStore>) -> Result<Applier, StoreError> {
        let (events_persisted_lsn, quarantine_persisted_lsn, violations_persisted_lsn) = {
            let shared = store.read_shared();
            (
                shared.tables.events.persisted_lsn,
                shared.tables.quarantine.persisted_lsn,
                shared.tables.violations.persisted_lsn,
            )
        };
        let mut applier = Applier {
            dedupe: DedupeIndex::default(),
            observers: Vec::new(),
            store,
            events_persisted_lsn,
            quarantine_persisted_lsn,
            violations_persisted_lsn,
            last_prune: Instant::now(),
        };
        applier.load_recent_ids().await?;
        Ok(applier)
    }

    /// Adds an observer of applied events; add before recovery so that it sees replayed ones.
    pub fn observe_with(&mut self, observer: Arc<dyn AppliedEvents>) {
        self.observers.push(observer);
    }

    fn window_start_micros(&self) -> i64 {
        let window = chrono::Duration::from_std(self.store.options.dedupe_window)
            .unwrap_or(chrono::Duration::MAX);
        (Utc::now() - window).timestamp_micros()
    }

    async fn load_recent_ids(&mut self) -> Result<(), StoreError> {
        let window_start = self.window_start_micros();
        let sql = format!(
            "SELECT source, message_id, received_at FROM events \
             WHERE received_at >= to_timestamp_micros({window_start})"
        );
        let (batches, _) = self.store.query(&sql, &QueryLimits::internal()).await?;
        for batch in &batches {
            // The table may hand strings back as views; one type keeps the loop simple.
            let sources = cast(batch.column(0), &DataType::Utf8)?;
            let message_ids = cast(batch.column(1), &DataType::Utf8)?;
            let (Some(sources), Some(message_ids), Some(received_at)) = (
                sources.as_string_opt::<i32>(),
                message_ids.as_string_opt::<i32>(),
                batch
                    .column(2)
                    .as_primitive_opt::<TimestampMicrosecondType>(),
            ) else {
                return Err(StoreError::UnexpectedColumns("events"));
            };
            for row in 0..batch.num_rows() {
                if sources.is_null(row) || message_ids.is_null(row) {
                    continue;
                }
                self.dedupe.record(
                    dedupe::key(sources.value(row), message_ids.value(row)),
                    received_at.value(row),
                    window_start,
                );
            }
        }
        tracing::info!(ids = self.dedupe.len(), "loaded dedupe index");
        Ok(())
    }

    /// Replays WAL records left on disk by the previous run, skipping what the tables hold.
    /// Records are decoded and applied a chunk at a time, so a long log never sits in memory
    /// twice.
    pub fn recover(&mut self, records: Vec<RecoveredRecord>) -> Result<usize, StoreError> {
        let persisted = self
            .events_persisted_lsn
            .min(self.quarantine_persisted_lsn)
            .min(self.violations_persisted_lsn);
        let mut replayed = 0;
        let mut chunk = Vec::with_capacity(RECOVERY_CHUNK);
        for record in records.into_iter().filter(|record| record.lsn > persisted) {
            let ingested: Ingested = serde_json::from_slice(&record.payload).map_err(|error| {
                StoreError::CorruptRecord {
                    lsn: record.lsn,
                    message: error.to_string(),
                }
            })?;
            chunk.push((record.lsn, ingested));
            if chunk.len() == RECOVERY_CHUNK {
                replayed += chunk.len();
                self.apply(std::mem::take(&mut chunk))?;
            }
        }
        replayed += chunk.len();
        self.apply(chunk)?;
        Ok(replayed)
    }

    /// Applies records in log order. On error nothing is applied, not even to the dedupe index.
    pub fn apply(&mut self, records: Vec<(Lsn, Ingested)>) -> Result<(), StoreError> {
        let Some(last_lsn) = records.last().map(|(lsn, _)| *lsn) else {
            return Ok(());
        };
        let window_start = self.window_start_micros();
        if self.last_prune.elapsed() > DEDUPE_PRUNE_INTERVAL {
            self.dedupe.forget_before(window_start);
            self.last_prune = Instant::now();
        }
        let mut events: Vec<(Lsn, &Event)> = Vec::with_capacity(records.len());
        let mut new_keys = HashSet::with_capacity(records.len());
        let mut rejected: Vec<(Lsn, &Rejected)> = Vec::new();
        let mut reports: Vec<(Lsn, &ViolationReport)> = Vec::new();
        for (lsn, record) in &records {
            match record {
                Ingested::Event(event) => {
                    if *lsn <= self.events_persisted_lsn {
                        continue;
                    }
                    let key = dedupe::key(&event.source_id, &event.message_id);
                    if !self.dedupe.seen_since(key, window_start) && new_keys.insert(key) {
                        events.push((*lsn, event.as_ref()));
                    }
                }
                Ingested::Rejected(row) => {
                    if *lsn > self.quarantine_persisted_lsn {
                        rejected.push((*lsn, row));
                    }
                }
                Ingested::Violations(report) => {
                    if *lsn > self.violations_persisted_lsn {
                        reports.push((*lsn, report));
                    }
                }
            }
        }
        let events_rows = (!events.is_empty())
            .then(|| events_batch(&events))
            .transpose()?;
        let quarantine_rows = (!rejected.is_empty())
            .then(|| quarantine_batch(&rejected))
            .transpose()?;
        let violations_rows = (!reports.is_empty())
            .then(|| violations_batch(&reports))
            .transpose()?;
        if !events.is_empty() {
            let in_order: Vec<&Event> = events.iter().map(|(_, event)| *event).collect();
            for observer in &self.observers {
                observer.applied(&in_order).map_err(StoreError::Observer)?;
            }
        }
        for (_, event) in &events {
            self.dedupe.record(
                dedupe::key(&event.source_id, &event.message_id),
                event.received_at.timestamp_micros(),
                window_start,
            );
        }
        let (buffered_rows, applied_lsn) = {
            let mut shared = self.store.write_shared();
            let buffer = &mut shared.buffer;
            if let Some(batch) = events_rows {
                buffer.rows += batch.num_rows();
                buffer.events.push(batch);
            }
            if let Some(batch) = quarantine_rows {
                buffer.rows += batch.num_rows();
                buffer.quarantine.push(batch);
            }
            if let Some(batch) = violations_rows {
                buffer.rows += batch.num_rows();
                buffer.violations.push(batch);
            }
            // Replay after a restart starts below what the tables already hold.
            buffer.applied_lsn = buffer.applied_lsn.max(last_lsn);
            (buffer.rows, buffer.applied_lsn)
        };
        self.store.applied.send_replace(applied_lsn);
        if buffered_rows >= self.store.options.flush_rows {
            self.store.buffer_full.notify_one();
        }
        Ok(())
    }

    /// Applies durable batches as the WAL hands them over, until the WAL closes or a batch
    /// cannot be applied. Then it stops and drops `durable`, which makes the WAL refuse further
    /// appends (503): a later batch must never be applied past one that was not, and the
    /// unapplied records stay in the WAL for the next start.
    pub async fn run(mut self, mut durable: mpsc::UnboundedReceiver<Durable<Ingested>>) {
        while let Some(batch) = durable.recv().await {
            if let Err(error) = self.apply(batch.records) {
                tracing::error!(%error, "could not buffer durable records; refusing further events");
                return;
            }
        }
    }
}
