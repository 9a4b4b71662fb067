//! When to try again: exponential backoff with jitter, or the receiver's `Retry-After`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::config::DeliveryPolicy;

/// The wait before attempt `failed_attempts + 1`: half of the exponential step is fixed, half
/// is random, so waits grow and many destinations retrying together spread out.
pub fn backoff(policy: &DeliveryPolicy, failed_attempts: u32, random: &mut impl Rng) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(32);
    let step = policy
        .initial_backoff_ms
        .saturating_mul(1u64 << exponent)
        .min(policy.max_backoff_ms);
    let half = step / 2;
    Duration::from_millis(half + random.random_range(0..=step - half))
}

/// A `Retry-After` header: seconds, or an HTTP date. Waits are capped at `limit`.
pub fn retry_after(header: &str, now: DateTime<Utc>, limit: Duration) -> Option<Duration> {
    let header = header.trim();
    let wait = if let Ok(seconds) = header.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = DateTime::parse_from_rfc2822(header).ok()?;
        (at.with_timezone(&Utc) - now).to_std().unwrap_or_default()
    };
    Some(wait.min(limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn waits_grow_within_their_jitter_and_stop_at_the_maximum() {
        let policy = DeliveryPolicy {
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            ..DeliveryPolicy::default()
        };
        let mut random = rand::rngs::StdRng::seed_from_u64(7);
        for (attempt, step) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            for _ in 0..50 {
                let wait = backoff(&policy, attempt, &mut random).as_millis() as u64;
                assert!((step / 2..=step).contains(&wait), "{attempt}: {wait}");
            }
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let limit = Duration::from_secs(3600);
        assert_eq!(retry_after("7", now, limit), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now, limit),
            Some(Duration::from_secs(30))
        );
        assert_eq!(retry_after("99999", now, limit), Some(limit));
        assert_eq!(retry_after("soon", now, limit), None);
    }
}
