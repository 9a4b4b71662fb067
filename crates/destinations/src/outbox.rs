//! `<data>/outbox.redb`: each destination's queue of events to deliver and its dead-letter
//! queue. Events enter in the apply stage, durably, before the tables can hold them, so an
//! acknowledged event reaches every destination it matches even after a crash. An event is
//! stored once, however many destinations it is queued for; each queue holds only its sequence
//! numbers, and an event leaves once no queue holds it any more.
//!
//! Delivered events are removed in bulk ([`ACKS_PER_WRITE`] at a time, or when the destination
//! has nothing left to send) and those removals are not synced at once: after a crash some are
//! delivered again, which the idempotency key lets receivers recognise (at least once).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};
use silta_model::Event;

/// sequence -> event (JSON), once for all the destinations it is queued for
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// (destination, sequence) -> (): each destination's queue, in order
const QUEUED: TableDefinition<(&str, u64), ()> = TableDefinition::new("queued");
/// (destination, sequence) -> DeadLetter (JSON)
const DEAD: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("dead");
/// [`NEXT_EVENT`] -> the next sequence number
const SEQUENCE: TableDefinition<&str, u64> = TableDefinition::new("sequence");
const NEXT_EVENT: &str = "events";
/// destination -> (queued, dead)
const COUNTS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("counts");
/// (destination, profile id, microseconds) -> (): deliveries per person, for frequency caps
const SENDS: TableDefinition<(&str, &str, i64), ()> = TableDefinition::new("sends");

/// The first layout, with a copy of each event per destination; moved to the tables above.
const FIRST_QUEUE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue");
const FIRST_NEXT: TableDefinition<&str, u64> = TableDefinition::new("next");

/// Acknowledged events a destination keeps in memory before it removes them in one write.
pub const ACKS_PER_WRITE: usize = 2_000;

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
    /// Per destination, the events acknowledged but not yet removed from its queue.
    acked: Mutex<HashMap<String, BTreeSet<u64>>>,
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
        transaction.open_table(EVENTS)?;
        transaction.open_table(QUEUED)?;
        transaction.open_table(DEAD)?;
        transaction.open_table(SEQUENCE)?;
        transaction.open_table(COUNTS)?;
        transaction.open_table(SENDS)?;
        move_first_layout(&transaction)?;
        transaction.commit()?;
        Ok(Outbox {
            database,
            acked: Mutex::new(HashMap::new()),
        })
    }

    fn acked(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeSet<u64>>> {
        self.acked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues each event for its destination, in order, in one synced transaction. Items come
    /// event by event: an event listed for several destinations is stored once.
    pub fn enqueue(&self, items: &[(&str, &Event)]) -> Result<(), OutboxError> {
        if items.is_empty() {
            return Ok(());
        }
        let transaction = self.database.begin_write()?;
        {
            let mut events = transaction.open_table(EVENTS)?;
            let mut queued = transaction.open_table(QUEUED)?;
            let mut sequence = transaction.open_table(SEQUENCE)?;
            let mut next = sequence.get(NEXT_EVENT)?.map_or(0, |seq| seq.value());
            let mut added: HashMap<&str, u64> = HashMap::new();
            let mut stored: Option<(*const Event, u64)> = None;
            for (destination, event) in items {
                let seq = match stored {
                    Some((last, seq)) if std::ptr::eq(last, *event) => seq,
                    _ => {
                        let seq = next;
                        next += 1;
                        events.insert(seq, encode(event)?.as_slice())?;
                        stored = Some((std::ptr::from_ref(*event), seq));
                        seq
                    }
                };
                queued.insert((*destination, seq), ())?;
                *added.entry(destination).or_default() += 1;
            }
            sequence.insert(NEXT_EVENT, next)?;
            for (destination, added) in added {
                adjust(&transaction, destination, |(queued, dead)| {
                    (queued + added, dead)
                })?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// The oldest `limit` events queued for `destination` after the sequence number `after`,
    /// leaving out those acknowledged already.
    pub fn peek(
        &self,
        destination: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Queued>, OutboxError> {
        let transaction = self.database.begin_read()?;
        let seqs: Vec<u64> = {
            let acked = self.acked();
            let acked = acked.get(destination);
            let queued = transaction.open_table(QUEUED)?;
            let from = after.map_or(0, |after| after.saturating_add(1));
            let mut seqs = Vec::with_capacity(limit.min(1024));
            for entry in queued.range((destination, from)..=(destination, u64::MAX))? {
                let seq = entry?.0.value().1;
                if !acked.is_some_and(|acked| acked.contains(&seq)) {
                    seqs.push(seq);
                }
                if seqs.len() == limit {
                    break;
                }
            }
            seqs
        };
        let events = transaction.open_table(EVENTS)?;
        seqs.into_iter()
            .map(|seq| {
                let bytes = events.get(seq)?.ok_or_else(|| {
                    OutboxError::Corrupt(format!("queued event {seq} is missing"))
                })?;
                Ok(Queued {
                    seq,
                    event: decode(bytes.value())?,
                })
            })
            .collect()
    }

    /// Acknowledges delivered (or deliberately skipped) events: they are not peeked again and
    /// leave the queue with the next write of acknowledgements.
    pub fn ack(&self, destination: &str, seqs: &[u64]) -> Result<(), OutboxError> {
        let pending = {
            let mut acked = self.acked();
            let acked = acked.entry(destination.to_string()).or_default();
            acked.extend(seqs);
            acked.len()
        };
        if pending >= ACKS_PER_WRITE {
            self.flush(destination)?;
        }
        Ok(())
    }

    /// Removes the acknowledged events of `destination` from its queue, and every event no
    /// queue holds any more.
    pub fn flush(&self, destination: &str) -> Result<(), OutboxError> {
        let seqs: Vec<u64> = match self.acked().get(destination) {
            Some(acked) if !acked.is_empty() => acked.iter().copied().collect(),
            _ => return Ok(()),
        };
        let mut transaction = self.database.begin_write()?;
        transaction.set_durability(Durability::None)?;
        {
            let mut queued = transaction.open_table(QUEUED)?;
            let mut removed = 0;
            for seq in &seqs {
                removed += u64::from(queued.remove((destination, *seq))?.is_some());
            }
            adjust(&transaction, destination, |(queued, dead)| {
                (queued.saturating_sub(removed), dead)
            })?;
        }
        forget_unqueued_events(&transaction)?;
        transaction.commit()?;
        // Only what was written: acknowledgements that came meanwhile stay.
        if let Some(acked) = self.acked().get_mut(destination) {
            for seq in &seqs {
                acked.remove(seq);
            }
        }
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
            let mut queued = transaction.open_table(QUEUED)?;
            let mut dead = transaction.open_table(DEAD)?;
            let failed_at = Utc::now();
            let mut moved = 0;
            for event in events {
                if queued.remove((destination, event.seq))?.is_none() {
                    continue;
                }
                let letter = DeadLetter {
                    event: event.event.clone(),
                    reason: reason.to_string(),
                    attempts,
                    failed_at,
                };
                dead.insert((destination, event.seq), encode(&letter)?.as_slice())?;
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
            let mut events = transaction.open_table(EVENTS)?;
            let mut queued = transaction.open_table(QUEUED)?;
            let mut sequence = transaction.open_table(SEQUENCE)?;
            let mut next = sequence.get(NEXT_EVENT)?.map_or(0, |seq| seq.value());
            let letters = dead.extract_from_if(all_of(destination), |_, _| true)?;
            let mut replayed = 0;
            for entry in letters {
                let (_, value) = entry?;
                let letter: DeadLetter = decode(value.value())?;
                events.insert(next, encode(&letter.event)?.as_slice())?;
                queued.insert((destination, next), ())?;
                next += 1;
                replayed += 1;
            }
            sequence.insert(NEXT_EVENT, next)?;
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

    /// Writes every acknowledgement and makes every earlier commit durable (at shutdown).
    pub fn sync(&self) -> Result<(), OutboxError> {
        let destinations: Vec<String> = self.acked().keys().cloned().collect();
        for destination in destinations {
            self.flush(&destination)?;
        }
        self.database.begin_write()?.commit()?;
        Ok(())
    }

    /// (queued, dead-lettered) for `destination`.
    pub fn counts(&self, destination: &str) -> Result<(u64, u64), OutboxError> {
        let acked = self.acked().get(destination).map_or(0, BTreeSet::len) as u64;
        let transaction = self.database.begin_read()?;
        let counts = transaction.open_table(COUNTS)?;
        let (queued, dead) = counts.get(destination)?.map_or((0, 0), |c| c.value());
        Ok((queued.saturating_sub(acked), dead))
    }

    /// Forgets everything of a deleted destination.
    pub fn remove(&self, destination: &str) -> Result<(), OutboxError> {
        self.acked().remove(destination);
        let transaction = self.database.begin_write()?;
        {
            let mut queued = transaction.open_table(QUEUED)?;
            queued.retain_in(all_of(destination), |_, _| false)?;
            let mut dead = transaction.open_table(DEAD)?;
            dead.retain_in(all_of(destination), |_, _| false)?;
            transaction.open_table(COUNTS)?.remove(destination)?;
            let mut sends = transaction.open_table(SENDS)?;
            sends.retain_in(
                (destination, "", i64::MIN)..=(destination, "\u{10FFFF}", i64::MAX),
                |_, _| false,
            )?;
        }
        forget_unqueued_events(&transaction)?;
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

/// Removes the events older than the head of every queue: no destination will send them.
fn forget_unqueued_events(transaction: &WriteTransaction) -> Result<(), OutboxError> {
    let queued = transaction.open_table(QUEUED)?;
    let counts = transaction.open_table(COUNTS)?;
    let mut oldest = transaction
        .open_table(SEQUENCE)?
        .get(NEXT_EVENT)?
        .map_or(0, |next| next.value());
    for entry in counts.iter()? {
        let destination = entry?.0;
        if let Some(head) = queued.range(all_of(destination.value()))?.next() {
            oldest = oldest.min(head?.0.value().1);
        }
    }
    transaction
        .open_table(EVENTS)?
        .retain_in(..oldest, |_, _| false)?;
    Ok(())
}

/// Moves queues of the first layout (a copy of each event per destination) into the current
/// one. Sequence numbers continue after the largest of the first layout, which dead letters
/// keep.
fn move_first_layout(transaction: &WriteTransaction) -> Result<(), OutboxError> {
    let found = transaction
        .list_tables()?
        .any(|table| table.name() == FIRST_QUEUE.name());
    if !found {
        return Ok(());
    }
    {
        let first = transaction.open_table(FIRST_QUEUE)?;
        let mut next = 0;
        for entry in transaction.open_table(FIRST_NEXT)?.iter()? {
            next = u64::max(next, entry?.1.value());
        }
        let mut events = transaction.open_table(EVENTS)?;
        let mut queued = transaction.open_table(QUEUED)?;
        for entry in first.iter()? {
            let (key, value) = entry?;
            events.insert(next, value.value())?;
            queued.insert((key.value().0, next), ())?;
            next += 1;
        }
        transaction.open_table(SEQUENCE)?.insert(NEXT_EVENT, next)?;
    }
    transaction.delete_table(FIRST_QUEUE)?;
    transaction.delete_table(FIRST_NEXT)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::ReadableTableMetadata;

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
        assert_eq!(
            ids(outbox.peek("hook", None, 10).expect("peek")),
            ["a", "b", "c"]
        );
        assert_eq!(ids(outbox.peek("nats", None, 10).expect("peek")), ["a"]);
        assert_eq!(outbox.counts("hook").expect("counts"), (3, 0));

        let head = outbox.peek("hook", None, 2).expect("peek");
        outbox.ack("hook", &[head[0].seq]).expect("acks");
        outbox
            .dead_letter("hook", &head[1..], "http 500", 3)
            .expect("dead letters");
        assert_eq!(ids(outbox.peek("hook", None, 10).expect("peek")), ["c"]);
        assert_eq!(outbox.counts("hook").expect("counts"), (1, 1));
        let dead = outbox.dead("hook", 10).expect("dead");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].1.reason, "http 500");
        assert_eq!(dead[0].1.attempts, 3);

        assert_eq!(outbox.replay("hook").expect("replays"), 1);
        assert_eq!(
            ids(outbox.peek("hook", None, 10).expect("peek")),
            ["c", "b"]
        );
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
        assert!(outbox.peek("hook", None, 10).expect("peek").is_empty());
        assert_eq!(outbox.counts("nats").expect("counts"), (1, 0));
    }

    fn stored_events(outbox: &Outbox) -> u64 {
        let transaction = outbox.database.begin_read().expect("read");
        transaction
            .open_table(EVENTS)
            .expect("events")
            .len()
            .expect("len")
    }

    #[test]
    fn an_event_is_stored_once_for_all_its_destinations_and_forgotten_after_the_last() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("outbox.redb");
        let outbox = Outbox::open(&path).expect("opens");
        let (a, b) = (event("a"), event("b"));
        outbox
            .enqueue(&[("hook", &a), ("nats", &a), ("hook", &b)])
            .expect("enqueues");
        assert_eq!(stored_events(&outbox), 2);

        let hook = outbox.peek("hook", None, 10).expect("peek");
        outbox.ack("hook", &[hook[0].seq]).expect("acks");
        assert_eq!(outbox.counts("hook").expect("counts"), (1, 0));
        assert_eq!(
            outbox.peek("hook", None, 10).expect("peek")[0]
                .event
                .message_id,
            "b",
            "an acknowledged event is not peeked again"
        );
        assert_eq!(
            outbox
                .peek("hook", Some(hook[1].seq), 10)
                .expect("peek")
                .len(),
            0,
            "nothing after the last"
        );
        outbox.flush("hook").expect("flushes");
        assert_eq!(stored_events(&outbox), 2, "nats still holds a");

        let nats = outbox.peek("nats", None, 10).expect("peek");
        outbox.ack("nats", &[nats[0].seq]).expect("acks");
        outbox.flush("nats").expect("flushes");
        assert_eq!(stored_events(&outbox), 1, "only b is still queued");

        outbox.ack("hook", &[hook[1].seq]).expect("acks");
        outbox.sync().expect("syncs");
        assert_eq!(stored_events(&outbox), 0);
        drop(outbox);
        let outbox = Outbox::open(&path).expect("reopens");
        assert!(outbox.peek("hook", None, 10).expect("peek").is_empty());
        assert_eq!(outbox.counts("hook").expect("counts"), (0, 0));
    }

    #[test]
    fn queues_of_the_first_layout_are_moved_on_opening() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("outbox.redb");
        {
            let database = Database::create(&path).expect("creates");
            let transaction = database.begin_write().expect("write");
            {
                let mut queue = transaction.open_table(FIRST_QUEUE).expect("queue");
                let mut next = transaction.open_table(FIRST_NEXT).expect("next");
                let encoded = encode(&event("old")).expect("encodes");
                queue
                    .insert(("hook", 7), encoded.as_slice())
                    .expect("inserts");
                next.insert("hook", 8).expect("inserts");
                let mut dead = transaction.open_table(DEAD).expect("dead");
                let letter = DeadLetter {
                    event: event("dead"),
                    reason: "http 500".into(),
                    attempts: 1,
                    failed_at: Utc::now(),
                };
                dead.insert(("hook", 6), encode(&letter).expect("encodes").as_slice())
                    .expect("inserts");
            }
            transaction.commit().expect("commits");
        }
        let outbox = Outbox::open(&path).expect("opens");
        let queued = outbox.peek("hook", None, 10).expect("peek");
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].event.message_id, "old");
        assert!(queued[0].seq >= 8, "after every earlier sequence number");
        assert_eq!(outbox.replay("hook").expect("replays"), 1);
        let ids: Vec<String> = outbox
            .peek("hook", None, 10)
            .expect("peek")
            .into_iter()
            .map(|queued| queued.event.message_id)
            .collect();
        assert_eq!(ids, ["old", "dead"]);
    }
}
