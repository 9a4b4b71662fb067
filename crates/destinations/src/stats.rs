//! What a destination has done since the server started, for the API, the CLI and `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

pub struct Stats {
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    dead_lettered: AtomicU64,
    suppressed: AtomicU64,
    outside_audiences: AtomicU64,
    capped: AtomicU64,
    without_address: AtomicU64,
    retrying: AtomicBool,
    quiet: AtomicBool,
    /// Milliseconds from receipt at Silta to the receiver's answer, per event.
    latency_ms: Mutex<Histogram<u64>>,
    last_error: Mutex<Option<String>>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            delivered: AtomicU64::new(0),
            failed_attempts: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            outside_audiences: AtomicU64::new(0),
            capped: AtomicU64::new(0),
            without_address: AtomicU64::new(0),
            retrying: AtomicBool::new(false),
            quiet: AtomicBool::new(false),
            // Up to a day, three significant digits.
            latency_ms: Mutex::new(
                Histogram::new_with_bounds(1, 86_400_000, 3).expect("valid histogram bounds"),
            ),
            last_error: Mutex::new(None),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DestinationStats {
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    /// Events not sent because the person had not granted the destination's purpose.
    pub suppressed_without_consent: u64,
    /// Events not sent because the person was in none of the filter's audiences.
    pub outside_audiences: u64,
    /// Events not sent because the person had reached the frequency cap.
    pub capped: u64,
    /// Emails not sent because the person has no email address.
    pub without_address: u64,
    pub retrying: bool,
    /// Waiting for the end of the quiet hours.
    pub quiet: bool,
    pub queued: u64,
    pub dead_letters: u64,
    pub latency_ms_p50: Option<u64>,
    pub latency_ms_p99: Option<u64>,
    pub last_error: Option<String>,
}

impl Stats {
    pub(crate) fn delivered(&self, latencies: impl Iterator<Item = Duration>) {
        let mut histogram = self
            .latency_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut count = 0;
        for latency in latencies {
            let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
            histogram.saturating_record(millis.max(1));
            count += 1;
        }
        self.delivered.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, reason: &str) {
        self.failed_attempts.fetch_add(1, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason.to_string());
    }

    pub(crate) fn dead_lettered(&self, count: usize) {
        self.dead_lettered
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn suppressed(&self, count: usize) {
        self.suppressed.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn outside_audiences(&self, count: usize) {
        self.outside_audiences
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn capped(&self, count: usize) {
        self.capped.fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn without_address(&self, count: usize) {
        self.without_address
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_quiet(&self, quiet: bool) {
        self.quiet.store(quiet, Ordering::Relaxed);
    }

    pub(crate) fn set_retrying(&self, retrying: bool) {
        self.retrying.store(retrying, Ordering::Relaxed);
    }

    /// The counters with the queue depths read from the outbox.
    pub fn snapshot(&self, queued: u64, dead_letters: u64) -> DestinationStats {
        let histogram = self
            .latency_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let quantile = |q: f64| (!histogram.is_empty()).then(|| histogram.value_at_quantile(q));
        DestinationStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            suppressed_without_consent: self.suppressed.load(Ordering::Relaxed),
            outside_audiences: self.outside_audiences.load(Ordering::Relaxed),
            capped: self.capped.load(Ordering::Relaxed),
            without_address: self.without_address.load(Ordering::Relaxed),
            retrying: self.retrying.load(Ordering::Relaxed),
            quiet: self.quiet.load(Ordering::Relaxed),
            queued,
            dead_letters,
            latency_ms_p50: quantile(0.5),
            latency_ms_p99: quantile(0.99),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}
