//! When the dev server last pushed something to a page over its HMR
//! socket, on the daemon's own clock.
//!
//! A page reports "an HMR update was applied" some time after the dev
//! server's message reached it; meanwhile the next revision may have been
//! written. The message that caused the report was pushed at a moment the
//! gateway saw (it tunnels the socket), so the render task can tell an
//! update about the revision on disk from one about the revision before: if
//! the push came before the revision was applied, it is not about it. The
//! page says how long ago (by its own clock, as a duration) the message
//! arrived; the push answering it is the last one at or before then.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pushes remembered; older ones are long past any revision in question.
const KEPT: usize = 64;
/// A page's own account of how long ago is believed up to this.
pub const MAX_AGE: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Default)]
pub struct HmrPushes {
    moments: Arc<Mutex<VecDeque<Instant>>>,
}

impl HmrPushes {
    /// The dev server sent bytes to a page over an HMR socket now.
    pub fn record(&self) {
        self.record_at(Instant::now());
    }

    fn record_at(&self, moment: Instant) {
        let mut moments = self.moments.lock().expect("hmr pushes poisoned");
        if moments.back().is_some_and(|last| *last >= moment) {
            return;
        }
        if moments.len() == KEPT {
            moments.pop_front();
        }
        moments.push_back(moment);
    }

    /// The push a page's message that arrived `age` before now answers:
    /// the last one at or before that moment; `None` when none is known
    /// (no HMR socket through the gateway, or all pushes came after).
    pub fn answering(&self, age: Duration) -> Option<Instant> {
        let moment = Instant::now().checked_sub(age.min(MAX_AGE))?;
        let moments = self.moments.lock().expect("hmr pushes poisoned");
        moments.iter().rev().find(|push| **push <= moment).copied()
    }
}

/// Whether an upgrade request opens a dev server's HMR socket: Next's
/// (`/_next/webpack-hmr`, `/_next/hmr` since Next 16) or Vite's (its
/// `vite-hmr` subprotocol).
pub fn is_hmr_socket(path: &str, protocols: Option<&str>) -> bool {
    path.starts_with("/_next/webpack-hmr")
        || path.starts_with("/_next/hmr")
        || protocols.is_some_and(|protocols| {
            protocols
                .split(',')
                .any(|protocol| protocol.trim() == "vite-hmr")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_answering_a_message_is_the_last_one_before_it_arrived() {
        let pushes = HmrPushes::default();
        let now = Instant::now();
        let early = now - Duration::from_millis(900);
        let late = now - Duration::from_millis(300);
        pushes.record_at(early);
        pushes.record_at(late);
        let cases = [
            (Duration::from_millis(100), Some(late)),
            (Duration::from_millis(500), Some(early)),
            (Duration::from_millis(2000), None),
        ];
        for (age, expected) in cases {
            assert_eq!(pushes.answering(age), expected, "{age:?}");
        }
    }

    #[test]
    fn only_so_many_pushes_are_kept() {
        let pushes = HmrPushes::default();
        let start = Instant::now() - Duration::from_secs(5);
        for step in 0..(KEPT as u64 + 10) {
            pushes.record_at(start + Duration::from_millis(step));
        }
        assert_eq!(pushes.moments.lock().unwrap().len(), KEPT);
    }

    #[test]
    fn hmr_sockets_are_told_from_the_apps_own() {
        let cases = [
            ("/_next/webpack-hmr?id=1", None, true),
            ("/_next/hmr", None, true),
            ("/", Some("vite-hmr"), true),
            ("/", Some("vite-ping, vite-hmr"), true),
            ("/socket", None, false),
            ("/", Some("chat"), false),
        ];
        for (path, protocols, expected) in cases {
            assert_eq!(
                is_hmr_socket(path, protocols),
                expected,
                "{path} {protocols:?}"
            );
        }
    }
}
