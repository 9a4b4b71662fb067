//! Token buckets per key (a source, a client address): a key may send `rate` events a second,
//! with bursts of one second's worth.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    events_per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Keys tracked before idle ones are forgotten (many client addresses must not grow the map
/// without bound).
const MAX_KEYS: usize = 100_000;

struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

impl RateLimiter {
    /// `events_per_second == 0` turns limiting off.
    pub fn new(events_per_second: u64) -> RateLimiter {
        RateLimiter {
            events_per_second: events_per_second as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `events` tokens from the key's bucket, or says how many seconds to wait.
    pub fn admit(&self, key: &str, events: usize) -> Result<(), u64> {
        if self.events_per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_KEYS {
            // A bucket idle for a second is full again: forgetting it changes nothing.
            buckets.retain(|_, bucket| now.duration_since(bucket.refilled_at).as_secs_f64() < 1.0);
        }
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.events_per_second,
            refilled_at: now,
        });
        let elapsed = now.duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed * self.events_per_second).min(self.events_per_second);
        bucket.refilled_at = now;
        let wanted = events as f64;
        if bucket.tokens >= wanted {
            bucket.tokens -= wanted;
            return Ok(());
        }
        let wait_seconds = ((wanted - bucket.tokens) / self.events_per_second).ceil();
        Err((wait_seconds as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_rate_is_refused_with_a_wait() {
        let limiter = RateLimiter::new(10);
        assert!(limiter.admit("web", 10).is_ok());
        assert_eq!(limiter.admit("web", 5), Err(1));
        assert!(limiter.admit("app", 5).is_ok(), "buckets are per key");
        assert!(RateLimiter::new(0).admit("web", 1_000_000).is_ok());
    }
}
