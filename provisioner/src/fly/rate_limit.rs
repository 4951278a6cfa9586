//! Client-side rate limiting, shaped like Fly's own limits so that we wait
//! here instead of collecting 429s: per identifier (machine or app) and
//! action, 1 request/s with a burst of 3; getting a machine, 5/s burst 10.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    /// Fly's limit for every action except getting a machine.
    pub const DEFAULT: Rate = Rate {
        per_second: 1.0,
        burst: 3.0,
    };
    pub const GET_MACHINE: Rate = Rate {
        per_second: 5.0,
        burst: 10.0,
    };
}

/// Token buckets keyed by (identifier, action). A caller reserves a token
/// even when the bucket is empty (it goes negative) and sleeps off the debt
/// outside the lock, so concurrent callers queue fairly.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(String, &'static str), Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Above this many buckets, full idle ones are dropped so memory stays bounded.
const PRUNE_ABOVE: usize = 10_000;

impl RateLimiter {
    pub async fn acquire(&self, key: &str, action: &'static str, rate: Rate) {
        let wait = self.reserve(key, action, rate, Instant::now());
        if !wait.is_zero() {
            tracing::debug!(
                key,
                action,
                wait_ms = wait.as_millis() as u64,
                "client-side rate limit"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn reserve(&self, key: &str, action: &'static str, rate: Rate, now: Instant) -> Duration {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| {
                now.duration_since(bucket.updated).as_secs_f64() * rate.per_second < rate.burst
            });
        }
        let bucket = buckets.entry((key.to_owned(), action)).or_insert(Bucket {
            tokens: rate.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(rate.burst) - 1.0;
        bucket.updated = now;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_one_per_second() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(
                limiter.reserve("m1", "start", Rate::DEFAULT, start),
                Duration::ZERO
            );
        }
        assert_eq!(
            limiter.reserve("m1", "start", Rate::DEFAULT, start),
            Duration::from_secs(1)
        );
        assert_eq!(
            limiter.reserve("m1", "start", Rate::DEFAULT, start),
            Duration::from_secs(2)
        );
        // Another machine or another action has its own bucket.
        assert_eq!(
            limiter.reserve("m2", "start", Rate::DEFAULT, start),
            Duration::ZERO
        );
        assert_eq!(
            limiter.reserve("m1", "stop", Rate::DEFAULT, start),
            Duration::ZERO
        );
        // Time refills the bucket.
        let later = start + Duration::from_secs(10);
        assert_eq!(
            limiter.reserve("m1", "start", Rate::DEFAULT, later),
            Duration::ZERO
        );
    }

    #[test]
    fn get_machine_has_a_larger_burst() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(
                limiter.reserve("m1", "get", Rate::GET_MACHINE, now),
                Duration::ZERO
            );
        }
        assert_eq!(
            limiter.reserve("m1", "get", Rate::GET_MACHINE, now),
            Duration::from_millis(200)
        );
    }
}
