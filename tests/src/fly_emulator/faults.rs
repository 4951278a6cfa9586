//! Fault injection: random 429s and 5xx, latency with spikes, and planned
//! failures ("the 2nd call of Machines_create from now answers 503").
//! Random choices come from a seeded generator so a failing run can be replayed.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Random faults applied to every call that passes the spec check.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Share of calls answered 429 with `Retry-After`.
    pub rate_429: f64,
    /// Share of calls answered 500, 502 or 503 (before doing anything).
    pub rate_5xx: f64,
    /// Seconds sent in `Retry-After` with an injected 429.
    pub retry_after_seconds: u64,
    /// Added to every call.
    pub latency: Duration,
    /// Share of calls that also wait `spike`.
    pub spike_rate: f64,
    pub spike: Duration,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            rate_429: 0.0,
            rate_5xx: 0.0,
            retry_after_seconds: 1,
            latency: Duration::ZERO,
            spike_rate: 0.0,
            spike: Duration::ZERO,
        }
    }
}

/// What to do to one call.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub delay: Duration,
    /// Answer this status instead of doing the operation.
    pub fail_before: Option<u16>,
    /// Do the operation, then answer this status anyway (the answer is "lost").
    pub fail_after: Option<u16>,
}

pub(crate) struct FaultState {
    pub faults: Faults,
    rng: StdRng,
    calls_per_operation: HashMap<String, u64>,
    planned: Vec<Planned>,
}

struct Planned {
    operation_id: String,
    at_call: u64,
    status: u16,
    after_processing: bool,
}

impl FaultState {
    pub fn new(faults: Faults, seed: u64) -> FaultState {
        FaultState {
            faults,
            rng: StdRng::seed_from_u64(seed),
            calls_per_operation: HashMap::new(),
            planned: Vec::new(),
        }
    }

    /// The `nth` call (1 = the next one) of `operation_id` from now answers `status`.
    pub fn plan(&mut self, operation_id: &str, nth: u64, status: u16, after_processing: bool) {
        let seen = self
            .calls_per_operation
            .get(operation_id)
            .copied()
            .unwrap_or(0);
        self.planned.push(Planned {
            operation_id: operation_id.to_owned(),
            at_call: seen + nth.max(1),
            status,
            after_processing,
        });
    }

    pub fn decide(&mut self, operation_id: &str) -> Decision {
        let count = self
            .calls_per_operation
            .entry(operation_id.to_owned())
            .or_default();
        *count += 1;
        let count = *count;
        let mut decision = Decision {
            delay: self.faults.latency,
            ..Decision::default()
        };
        if self.faults.spike_rate > 0.0 && self.rng.random_bool(self.faults.spike_rate.min(1.0)) {
            decision.delay += self.faults.spike;
        }
        if let Some(index) = self
            .planned
            .iter()
            .position(|p| p.operation_id == operation_id && p.at_call == count)
        {
            let planned = self.planned.remove(index);
            if planned.after_processing {
                decision.fail_after = Some(planned.status);
            } else {
                decision.fail_before = Some(planned.status);
            }
            return decision;
        }
        let roll: f64 = self.rng.random();
        if roll < self.faults.rate_429 {
            decision.fail_before = Some(429);
        } else if roll < self.faults.rate_429 + self.faults.rate_5xx {
            decision.fail_before = Some([500, 502, 503][self.rng.random_range(0..3)]);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_failure_hits_exactly_the_nth_call() {
        let mut state = FaultState::new(Faults::default(), 1);
        state.decide("Machines_create");
        state.plan("Machines_create", 2, 503, false);
        assert_eq!(state.decide("Machines_create").fail_before, None);
        assert_eq!(state.decide("Apps_create").fail_before, None);
        assert_eq!(state.decide("Machines_create").fail_before, Some(503));
        assert_eq!(state.decide("Machines_create").fail_before, None);
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let faults = Faults {
            rate_429: 0.2,
            rate_5xx: 0.1,
            ..Faults::default()
        };
        let mut state = FaultState::new(faults, 7);
        let decisions: Vec<_> = (0..2000).map(|_| state.decide("x").fail_before).collect();
        let limited = decisions.iter().filter(|d| **d == Some(429)).count();
        let failed = decisions
            .iter()
            .filter(|d| d.is_some_and(|s| s >= 500))
            .count();
        assert!((300..500).contains(&limited), "{limited}");
        assert!((120..280).contains(&failed), "{failed}");
    }
}
