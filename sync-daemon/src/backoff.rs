//! Capped exponential backoff with jitter, for retrying transient failures
//! without hammering a server that is restarting, and without every daemon
//! retrying in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            failures: 0,
        }
    }

    /// The pause before the next attempt: half of the capped exponential
    /// step, plus a random part of the other half ("equal jitter"), so it
    /// never drops to zero.
    pub fn next_delay(&mut self) -> Duration {
        let step = self
            .base
            .saturating_mul(1 << self.failures.min(16))
            .min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let half = step / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = backoff.next_delay();
        assert!(
            (Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first),
            "{first:?}"
        );
        for _ in 0..20 {
            let delay = backoff.next_delay();
            assert!(delay <= Duration::from_secs(2), "{delay:?}");
        }
        assert!(
            backoff.next_delay() >= Duration::from_secs(1),
            "at the cap, at least half of it"
        );
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
