//! `<data>/outbox.redb`: each destination's queue of events to deliver and its dead-letter
//! queue. Events enter in the apply stage, durably, before the tables can hold them, so an
//! acknowledged event reaches every destination it matches even after a crash. Removing
//! delivered events is not synced at once: after a crash some are delivered again, which the
//! idempotency key lets receivers recognise (at least once).

use std::path::Path;

use chrono::{DateTime, Utc};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use silta_model::Event;

/// (destination, sequence) -> event (JSON)
const QUEUE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue");
/// (destination, sequence) -> DeadLetter (JSON)
const DEAD: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("dead");
/// destination -> next sequence number
const NEXT: TableDefinition<&str, u64> = TableDefinition::new("next");
/// destination -> (queued, dead)
const COUNTS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("counts");
/// (destination, profile id, microseconds) -> (): deliveries per person, for frequency caps
const SENDS: TableDefinition<(&str, &str, i64), ()> = TableDefinition::new("sends");

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Database(#[from] redb::Error),
    #[error("outbox record is corrupt: {0}")]
    Corrupt(String),
}

macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for OutboxError {
            fn from(error: $error) -> Self {
                OutboxError::Database(error.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// An event waiting for delivery.
#[derive(Debug, Clone)]
pub struct Queued {
    pub seq: u64,
    pub event: Event,
}

/// An event that could not be delivered, with why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub event: Event,
    pub reason: String,
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

pub struct Outbox {
    database: Database,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, OutboxError> {
    serde_json::to_vec(value).map_err(|error| OutboxError::Corrupt(error.to_string()))
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, OutboxError> {
    serde_json::from_slice(bytes).map_err(|error| OutboxError::Corrupt(error.to_string()))
}

fn all_of(destination: &str) -> std::ops::RangeInclusive<(&str, u64)> {
    (destination, 0)..=(destination, u64::MAX)
}

impl Outbox {
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        let database = Database::create(path)?;
        let transaction = database.begin_write()?;
        transaction.open_table(QUEUE)?;
        transaction.open_table(DEAD)?;
        transaction.open_table(NEXT)?;
        transaction.open_table(COUNTS)?;
        transaction.open_table(SENDS)?;
        transaction.commit()?;
        Ok(Outbox { database })
    }

    /// Queues each event for its destination, in order, in one synced transaction.
    pub fn enqueue(&self, items: &[(&str, &Event)]) -> Result<(), OutboxError> {
        if items.is_empty() {
            return Ok(());
        }
        let transaction = self.database.begin_write()?;
        {
            let mut queue = transaction.open_table(QUEUE)?;
            let mut next = transaction.open_table(NEXT)?;
            let mut counts = transaction.open_table(COUNTS)?;
            // Items come event by event: one encoding serves every destination of an event.
            let mut encoded: Option<(*const Event, Vec<u8>)> = None;
            for (destination, event) in items {
                let seq = next.get(*destination)?.map_or(0, |seq| seq.value());
                let same = encoded
                    .as_ref()
                    .is_some_and(|(last, _)| std::ptr::eq(*last, *event));
                if !same {
                    encoded = Some((std::ptr::from_ref(*event), encode(event)?));
                }
                let bytes = encoded
                    .as_ref()
                    .map_or(&[][..], |(_, bytes)| bytes.as_slice());
                queue.insert((*destination, seq), bytes)?;
                next.insert(*destination, seq + 1)?;
                let (queued, dead) = counts.get(*destination)?.map_or((0, 0), |c| c.value());
                counts.insert(*destination, (queued + 1, dead))?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// The oldest `limit` events queued for `destination`.
    pub fn peek(&self, destination: &str, limit: usize) -> Result<Vec<Queued>, OutboxError> {
        let transaction = self.database.begin_read()?;
        let queue = transaction.open_table(QUEUE)?;
        let mut found = Vec::with_capacity(limit.min(1024));
        for entry in queue.range(all_of(destination))?.take(limit) {
            let (key, value) = entry?;
            found.push(Queued {
                seq: key.value().1,
                event: decode(value.value())?,
            });
        }
        Ok(found)
    }

    /// Removes delivered (or deliberately skipped) events.
    pub fn ack(&self, destination: &str, seqs: &[u64]) -> Result<(), OutboxError> {
        let mut transaction = self.database.begin_write()?;
        transaction.set_durability(Durability::None)?;
        {
            let mut queue = transaction.open_table(QUEUE)?;
            let mut removed = 0;
            for seq in seqs {
                removed += u64::from(queue.remove((destination, *seq))?.is_some());
            }
            adjust(&transaction, destination, |(queued, dead)| {
                (queued.saturating_sub(removed), dead)
            })?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Moves events from the queue to the dead-letter queue.
    pub fn dead_letter(
        &self,
        destination: &str,
        events: &[Queued],
        reason: &str,
        attempts: u32,
    ) -> Result<(), OutboxError> {
        let transaction = self.database.begin_write()?;
        {
            let mut queue = transaction.open_table(QUEUE)?;
            let mut dead = transaction.open_table(DEAD)?;
            let failed_at = Utc::now();
            let mut moved = 0;
            for queued in events {
                if queue.remove((destination, queued.seq))?.is_none() {
                    continue;
                }
                let letter = DeadLetter {
                    event: queued.event.clone(),
                    reason: reason.to_string(),
                    attempts,
                    failed_at,
                };
                dead.insert((destination, queued.seq), encode(&letter)?.as_slice())?;
                moved += 1;
            }
            adjust(&transaction, destination, |(queued, dead)| {
                (queued.saturating_sub(moved), dead + moved)
            })?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// The oldest `limit` dead letters of `destination`, with their sequence numbers.
    pub fn dead(
        &self,
        destination: &str,
        limit: usize,
    ) -> Result<Vec<(u64, DeadLetter)>, OutboxError> {
        let transaction = self.database.begin_read()?;
        let dead = transaction.open_table(DEAD)?;
        let mut found = Vec::new();
        for entry in dead.range(all_of(destination))?.take(limit) {
            let (key, value) = entry?;
            found.push((key.value().1, decode(value.value())?));
        }
        Ok(found)
    }

    /// Puts every dead letter of `destination` back at the end of its queue; returns how many.
    pub fn replay(&self, destination: &str) -> Result<u64, OutboxError> {
        let transaction = self.database.begin_write()?;
        let replayed = {
            let mut dead = transaction.open_table(DEAD)?;
            let mut queue = transaction.open_table(QUEUE)?;
            let mut next = transaction.open_table(NEXT)?;
            let mut seq = next.get(destination)?.map_or(0, |seq| seq.value());
            let letters = dead.extract_from_if(all_of(destination), |_, _| true)?;
            let mut replayed = 0;
            for entry in letters {
                let (_, value) = entry?;
                let letter: DeadLetter = decode(value.value())?;
                queue.insert((destination, seq), encode(&letter.event)?.as_slice())?;
                seq += 1;
                replayed += 1;
            }
            next.insert(destination, seq)?;
            replayed
        };
        adjust(&transaction, destination, |(queued, dead)| {
            (queued + replayed, dead.saturating_sub(replayed))
        })?;
        transaction.commit()?;
        Ok(replayed)
    }

    /// How many deliveries to `profile` by `destination` were recorded since `since`.
    pub fn sends_since(
        &self,
        destination: &str,
        profile: &str,
        since: DateTime<Utc>,
    ) -> Result<usize, OutboxError> {
        let transaction = self.database.begin_read()?;
        let sends = transaction.open_table(SENDS)?;
        let range =
            (destination, profile, since.timestamp_micros())..=(destination, profile, i64::MAX);
        Ok(sends.range(range)?.count())
    }

    /// Records deliveries to people at `at`, forgetting theirs from before `forget_before`.
    pub fn record_sends(
        &self,
        destination: &str,
        profiles: &[&str],
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), OutboxError> {
        let transaction = self.database.begin_write()?;
        {
            let mut sends = transaction.open_table(SENDS)?;
            // Two deliveries to one person in one batch are a microsecond apart.
            for (offset, profile) in (0_i64..).zip(profiles) {
                let old = (destination, *profile, i64::MIN)
                    ..(destination, *profile, forget_before.timestamp_micros());
                sends.retain_in(old, |_, _| false)?;
                sends.insert((destination, *profile, at.timestamp_micros() + offset), ())?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Makes every earlier commit durable, removals included (at shutdown).
    pub fn sync(&self) -> Result<(), OutboxError> {
        self.database.begin_write()?.commit()?;
        Ok(())
    }

    /// (queued, dead-lettered) for `destination`.
    pub fn counts(&self, destination: &str) -> Result<(u64, u64), OutboxError> {
        let transaction = self.database.begin_read()?;
        let counts = transaction.open_table(COUNTS)?;
        Ok(counts.get(destination)?.map_or((0, 0), |c| c.value()))
    }

    /// Forgets everything of a deleted destination.
    pub fn remove(&self, destination: &str) -> Result<(), OutboxError> {
        let transaction = self.database.begin_write()?;
        {
            let mut queue = transaction.open_table(QUEUE)?;
            queue.retain_in(all_of(destination), |_, _| false)?;
            let mut dead = transaction.open_table(DEAD)?;
            dead.retain_in(all_of(destination), |_, _| false)?;
            transaction.open_table(NEXT)?.remove(destination)?;
            transaction.open_table(COUNTS)?.remove(destination)?;
            let mut sends = transaction.open_table(SENDS)?;
            sends.retain_in(
                (destination, "", i64::MIN)..=(destination, "\u{10FFFF}", i64::MAX),
                |_, _| false,
            )?;
        }
        transaction.commit()?;
        Ok(())
    }
}

fn adjust(
    transaction: &redb::WriteTransaction,
    destination: &str,
    change: impl FnOnce((u64, u64)) -> (u64, u64),
) -> Result<(), OutboxError> {
    let mut counts = transaction.open_table(COUNTS)?;
    let current = counts.get(destination)?.map_or((0, 0), |c| c.value());
    counts.insert(destination, change(current))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> Event {
        Event {
            message_id: id.into(),
            ..Event::default()
        }
    }

    #[test]
    fn queues_are_per_destination_in_order_and_survive_reopening() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("outbox.redb");
        {
            let outbox = Outbox::open(&path).expect("opens");
            let (a, b, c) = (event("a"), event("b"), event("c"));
            outbox
                .enqueue(&[("hook", &a), ("nats", &a), ("hook", &b), ("hook", &c)])
                .expect("enqueues");
        }
        let outbox = Outbox::open(&path).expect("reopens");
        let ids = |queued: Vec<Queued>| -> Vec<String> {
            queued.into_iter().map(|q| q.event.message_id).collect()
        };
        assert_eq!(ids(outbox.peek("hook", 10).expect("peek")), ["a", "b", "c"]);
        assert_eq!(ids(outbox.peek("nats", 10).expect("peek")), ["a"]);
        assert_eq!(outbox.counts("hook").expect("counts"), (3, 0));

        let head = outbox.peek("hook", 2).expect("peek");
        outbox.ack("hook", &[head[0].seq]).expect("acks");
        outbox
            .dead_letter("hook", &head[1..], "http 500", 3)
            .expect("dead letters");
        assert_eq!(ids(outbox.peek("hook", 10).expect("peek")), ["c"]);
        assert_eq!(outbox.counts("hook").expect("counts"), (1, 1));
        let dead = outbox.dead("hook", 10).expect("dead");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].1.reason, "http 500");
        assert_eq!(dead[0].1.attempts, 3);

        assert_eq!(outbox.replay("hook").expect("replays"), 1);
        assert_eq!(ids(outbox.peek("hook", 10).expect("peek")), ["c", "b"]);
        assert_eq!(outbox.counts("hook").expect("counts"), (2, 0));

        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        outbox
            .record_sends("hook", &["p1", "p1", "p2"], now - hour * 3, now - hour * 24)
            .expect("records");
        outbox
            .record_sends("hook", &["p1"], now, now - hour * 2)
            .expect("records");
        assert_eq!(
            outbox
                .sends_since("hook", "p1", now - hour * 24)
                .expect("count"),
            1
        );
        assert_eq!(
            outbox
                .sends_since("hook", "p2", now - hour * 24)
                .expect("count"),
            1
        );
        assert_eq!(
            outbox.sends_since("hook", "p2", now - hour).expect("count"),
            0
        );

        outbox.remove("hook").expect("removes");
        assert_eq!(
            outbox
                .sends_since("hook", "p2", now - hour * 24)
                .expect("count"),
            0
        );
        assert!(outbox.peek("hook", 10).expect("peek").is_empty());
        assert_eq!(outbox.counts("nats").expect("counts"), (1, 0));
    }
}
