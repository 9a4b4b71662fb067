//! One task per destination: it takes the oldest queued events, leaves out those of people who
//! did not consent to the destination's purpose or are outside its audiences, sends the rest and removes them once the
//! receiver has them. A failure holds the queue and is retried after a backoff (or the
//! receiver's `Retry-After`); a permanent refusal, or the last allowed attempt, moves the batch
//! to the dead-letter queue. Quiet hours hold the queue; a person who reached the frequency cap
//! is passed over. Each destination waits only for itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::SeedableRng;
use serde_json::{Value, json};
use silta_model::Event;
use tokio::sync::Notify;

use crate::config::{Destination, Target};
use crate::deliver::{Failure, Message, Sender};
use crate::outbox::{Outbox, OutboxError, Queued};
use crate::quiet::QuietWindow;
use crate::retry::backoff;
use crate::segment::segment_json;
use crate::stats::Stats;

/// What is known of an event's person at delivery time, so a consent withdrawn (or an audience
/// left) while the event waited in the queue still counts.
pub trait People: Send + Sync {
    /// Whether the person granted `purpose`.
    fn granted(&self, purpose: &str, event: &Event) -> bool;
    /// Whether the person is a member of one of `audiences`.
    fn in_any(&self, audiences: &[String], event: &Event) -> bool;
    /// The person's profile id.
    fn profile_id(&self, event: &Event) -> Option<String>;
    /// The person's email address, with a link that withdraws `purpose`.
    fn contact(&self, event: &Event, purpose: &str) -> Option<Contact>;
    /// Records that `destination` sent the person a message about `event`.
    fn record_sent(&self, destination: &Destination, event: &Event);
}

/// Where a person is reached by email.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub email: String,
    pub unsubscribe_url: String,
}

/// How long an idle worker sleeps when nothing wakes it (a safety net; enqueues wake it).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How long a worker waits after the outbox itself failed.
const OUTBOX_RETRY: Duration = Duration::from_secs(1);

pub struct Worker {
    pub destination: Destination,
    pub outbox: Arc<Outbox>,
    pub sender: Sender,
    pub people: Arc<dyn People>,
    pub stats: Arc<Stats>,
    pub wake: Arc<Notify>,
    /// The destination's quiet hours, parsed.
    pub quiet: Option<QuietWindow>,
}

/// The message a destination receives for `event`: its mapping applied to the Segment JSON.
pub fn message_for(destination: &Destination, event: &Event) -> Message {
    let segment = segment_json(event);
    let message: Value = match &destination.spec.mapping {
        Some(mapping) => mapping.apply(&segment),
        None => segment,
    };
    (format!("{}:{}", event.source_id, event.message_id), message)
}

impl Worker {
    /// Delivers until the task is aborted (the destination was changed, disabled or deleted).
    pub async fn run(self) {
        let id = self.destination.id.as_str();
        let policy = &self.destination.spec.delivery;
        let mut random = rand::rngs::StdRng::from_os_rng();
        let mut failed_attempts = 0u32;
        // Every event up to this sequence number was delivered, passed over or dead-lettered.
        let mut settled: Option<u64> = None;
        loop {
            let batch = match self.outbox.peek(id, settled, policy.batch_size) {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(destination = id, %error, "could not read the outbox");
                    tokio::time::sleep(OUTBOX_RETRY).await;
                    continue;
                }
            };
            if batch.is_empty() {
                if let Err(error) = self.outbox.flush(id) {
                    tracing::error!(destination = id, %error, "could not remove delivered events");
                }
                let _ = tokio::time::timeout(IDLE_POLL, self.wake.notified()).await;
                continue;
            }
            let last = batch.last().map(|queued| queued.seq);
            if batch.len() < policy.batch_size {
                // A batch that is not full waits up to `linger` from its oldest event.
                let age = (Utc::now() - batch[0].event.received_at)
                    .to_std()
                    .unwrap_or_default();
                if let Some(left) = policy.linger().checked_sub(age).filter(|d| !d.is_zero()) {
                    let _ = tokio::time::timeout(left, self.wake.notified()).await;
                    continue;
                }
            }
            let spec = &self.destination.spec;
            if let Some(wait) = self.quiet.and_then(|quiet| quiet.remaining(Utc::now())) {
                self.stats.set_quiet(true);
                tokio::time::sleep(wait).await;
                self.stats.set_quiet(false);
                continue;
            }
            let mut allowed = Vec::with_capacity(batch.len());
            let (mut without_consent, mut outside_audiences) = (Vec::new(), Vec::new());
            for queued in batch {
                if !self.people.granted(&spec.purpose, &queued.event) {
                    without_consent.push(queued.seq);
                } else if !spec.filter.audiences.is_empty()
                    && !self.people.in_any(&spec.filter.audiences, &queued.event)
                {
                    outside_audiences.push(queued.seq);
                } else {
                    allowed.push(queued);
                }
            }
            if !without_consent.is_empty() && self.acknowledge(&without_consent).await {
                self.stats.suppressed(without_consent.len());
            }
            if !outside_audiences.is_empty() && self.acknowledge(&outside_audiences).await {
                self.stats.outside_audiences(outside_audiences.len());
            }
            let (allowed, people) = match self.within_caps(allowed).await {
                Ok(kept) => kept,
                Err(error) => {
                    tracing::error!(destination = id, %error, "could not read the frequency caps");
                    tokio::time::sleep(OUTBOX_RETRY).await;
                    continue;
                }
            };
            let Some((allowed, messages)) = self.messages(allowed).await else {
                continue;
            };
            if allowed.is_empty() {
                settled = last;
                continue;
            }
            match self.sender.send(&messages).await {
                Ok(_) => {
                    self.sent(&allowed, &people);
                    let seqs: Vec<u64> = allowed.iter().map(|queued| queued.seq).collect();
                    if self.acknowledge(&seqs).await {
                        settled = last;
                        let now = Utc::now();
                        self.stats.delivered(allowed.iter().map(|queued| {
                            (now - queued.event.received_at)
                                .to_std()
                                .unwrap_or_default()
                        }));
                    }
                    failed_attempts = 0;
                }
                Err(failure) => {
                    failed_attempts += 1;
                    self.stats.failed(&failure.reason);
                    tracing::warn!(
                        destination = id,
                        attempt = failed_attempts,
                        status = failure.status,
                        retryable = failure.retryable,
                        "delivery failed"
                    );
                    if !failure.retryable || failed_attempts >= policy.max_attempts {
                        if self.dead_letter(&allowed, &failure, failed_attempts).await {
                            settled = last;
                        }
                        failed_attempts = 0;
                        continue;
                    }
                    let wait = backoff(policy, failed_attempts, &mut random)
                        .max(failure.retry_after.unwrap_or_default());
                    self.stats.set_retrying(true);
                    tokio::time::sleep(wait).await;
                    self.stats.set_retrying(false);
                }
            }
        }
    }

    /// Leaves out (and acknowledges) the events of people who reached the frequency cap;
    /// returns the rest with the profile id of each, for recording the deliveries.
    async fn within_caps(
        &self,
        allowed: Vec<Queued>,
    ) -> Result<(Vec<Queued>, Vec<String>), OutboxError> {
        let Some(cap) = self.destination.spec.frequency_cap else {
            return Ok((allowed, Vec::new()));
        };
        let since = Utc::now() - chrono::Duration::hours(i64::from(cap.per_hours));
        let mut counted: HashMap<String, usize> = HashMap::new();
        let (mut kept, mut people, mut capped) = (Vec::new(), Vec::new(), Vec::new());
        for queued in allowed {
            let Some(profile) = self.people.profile_id(&queued.event) else {
                capped.push(queued.seq);
                continue;
            };
            let sent = match counted.get_mut(&profile) {
                Some(count) => count,
                None => {
                    let earlier = self
                        .outbox
                        .sends_since(&self.destination.id, &profile, since)?;
                    counted.entry(profile.clone()).or_insert(earlier)
                }
            };
            if *sent >= cap.max as usize {
                capped.push(queued.seq);
                continue;
            }
            *sent += 1;
            people.push(profile);
            kept.push(queued);
        }
        if !capped.is_empty() && self.acknowledge(&capped).await {
            self.stats.capped(capped.len());
        }
        Ok((kept, people))
    }

    /// The messages of `allowed`; for email, each with its recipient, leaving out (and
    /// acknowledging) people without an address. None if the outbox failed.
    async fn messages(&self, allowed: Vec<Queued>) -> Option<(Vec<Queued>, Vec<Message>)> {
        let spec = &self.destination.spec;
        if !matches!(spec.target, Target::Email { .. }) {
            let messages = allowed
                .iter()
                .map(|queued| message_for(&self.destination, &queued.event))
                .collect();
            return Some((allowed, messages));
        }
        let (mut kept, mut messages, mut without) = (Vec::new(), Vec::new(), Vec::new());
        for queued in allowed {
            let Some(contact) = self.people.contact(&queued.event, &spec.purpose) else {
                without.push(queued.seq);
                continue;
            };
            let (key, mut message) = message_for(&self.destination, &queued.event);
            message["recipient"] = json!({
                "email": contact.email,
                "unsubscribe_url": contact.unsubscribe_url,
            });
            messages.push((key, message));
            kept.push(queued);
        }
        if !without.is_empty() {
            if !self.acknowledge(&without).await {
                return None;
            }
            self.stats.without_address(without.len());
        }
        Some((kept, messages))
    }

    /// Records a delivery: against the frequency cap, and as an event of the person for an
    /// email.
    fn sent(&self, delivered: &[Queued], people: &[String]) {
        let spec = &self.destination.spec;
        if let Some(cap) = spec.frequency_cap {
            let now = Utc::now();
            let profiles: Vec<&str> = people.iter().map(String::as_str).collect();
            let window = chrono::Duration::hours(i64::from(cap.per_hours));
            if let Err(error) =
                self.outbox
                    .record_sends(&self.destination.id, &profiles, now, now - window)
            {
                tracing::error!(destination = %self.destination.id, %error, "could not record deliveries for the frequency cap");
            }
        }
        if matches!(spec.target, Target::Email { .. }) {
            for queued in delivered {
                self.people.record_sent(&self.destination, &queued.event);
            }
        }
    }

    /// Acknowledges events; false if writing acknowledgements failed (they are kept in memory
    /// and written with the next ones; after a restart they are sent again).
    async fn acknowledge(&self, seqs: &[u64]) -> bool {
        match self.outbox.ack(&self.destination.id, seqs) {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(destination = %self.destination.id, %error, "could not remove delivered events");
                tokio::time::sleep(OUTBOX_RETRY).await;
                false
            }
        }
    }

    /// Moves events to the dead-letter queue; false if the outbox failed (they are sent again).
    async fn dead_letter(&self, events: &[Queued], failure: &Failure, attempts: u32) -> bool {
        match self
            .outbox
            .dead_letter(&self.destination.id, events, &failure.reason, attempts)
        {
            Ok(()) => {
                self.stats.dead_lettered(events.len());
                true
            }
            Err(error) => {
                tracing::error!(destination = %self.destination.id, %error, "could not dead-letter events");
                tokio::time::sleep(OUTBOX_RETRY).await;
                false
            }
        }
    }
}
