//! Which manifest request comes next, and what an answer or a failure
//! means for the one after: the sync loop's decisions, apart from its I/O.
//!
//! With long-polling the server holds `?since=N&wait=30` until the revision
//! passes N, so a save lands within milliseconds and an idle app costs one
//! request per 30 s. Without it (`--no-long-poll`, or a server that refuses
//! `wait`), the loop asks `?since=N` every interval, and falls back to
//! `If-None-Match` on the whole manifest if `since` is refused too. The
//! first request, and every request after a failure, fetches the full
//! manifest, so nothing missed while down or during a half-applied cycle
//! stays wrong.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::client::{Manifest, ManifestQuery};

/// How many times `--once` retries a transient failure before giving up.
pub const ONCE_ATTEMPTS: u32 = 5;
/// A long-poll answered faster than this without a change means the server
/// did not hold it; pause an interval so the loop cannot spin (Consul's rule).
const MIN_HELD_POLL: Duration = Duration::from_secs(1);

/// How the loop asks for changes, from the cheapest to the plainest; it
/// steps down when the server refuses a kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `?since=N&wait=30`: the server holds the request until a change.
    LongPoll,
    /// `?since=N` every interval: 304 when idle, only the changes otherwise.
    Deltas,
    /// `If-None-Match` every interval: 304 when idle, the whole manifest otherwise.
    Conditional,
}

/// What the loop does after an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the next request at once.
    Now,
    /// Wait this long first (watching for local edits and shutdown).
    After(Duration),
    /// `--once` has converged.
    Exit,
}

/// What to do with a manifest that arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it. `backwards` holds the previous revision when this full
    /// manifest is older than what is on disk (a restored server).
    Apply { backwards: Option<u64> },
    /// A delta older than what is on disk: ask for the full manifest now.
    Resync { previous: u64 },
}

#[derive(Debug)]
pub struct Poller {
    mode: Mode,
    need_full: bool,
    etag: Option<String>,
    interval: Duration,
    once: bool,
    backoff: Backoff,
}

impl Poller {
    pub fn new(long_poll: bool, interval: Duration, once: bool) -> Poller {
        Poller {
            mode: if long_poll {
                Mode::LongPoll
            } else {
                Mode::Deltas
            },
            need_full: true,
            etag: None,
            interval,
            once,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(30)),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The next request, given the revision on disk.
    pub fn query(&self, revision: Option<u64>) -> ManifestQuery {
        match (self.need_full, self.mode, revision, &self.etag) {
            (false, Mode::LongPoll, Some(since), _) => ManifestQuery::LongPoll { since },
            (false, Mode::Deltas, Some(since), _) => ManifestQuery::Since { since },
            (false, Mode::Conditional, _, Some(etag)) => ManifestQuery::IfNoneMatch(etag.clone()),
            _ => ManifestQuery::Full,
        }
    }

    /// A 304 (or an empty long-poll) `elapsed` after `query` was sent.
    pub fn unchanged(&mut self, query: &ManifestQuery, elapsed: Duration) -> Next {
        self.backoff.reset();
        if matches!(query, ManifestQuery::LongPoll { .. }) {
            if elapsed >= MIN_HELD_POLL {
                Next::Now
            } else {
                Next::After(self.interval)
            }
        } else {
            // Polls start an interval apart, however long each took.
            Next::After(self.interval.saturating_sub(elapsed))
        }
    }

    /// A manifest arrived while `revision` is on disk.
    pub fn manifest(&mut self, manifest: &Manifest, revision: Option<u64>) -> Verdict {
        let backwards = revision.filter(|previous| manifest.revision < *previous);
        if let Some(previous) = backwards
            && !manifest.full
        {
            self.need_full = true;
            return Verdict::Resync { previous };
        }
        if manifest.full {
            self.etag = manifest.etag.clone();
        }
        Verdict::Apply { backwards }
    }

    /// The manifest was applied, `elapsed` after its request was sent.
    pub fn applied(&mut self, elapsed: Duration) -> Next {
        self.need_full = false;
        self.backoff.reset();
        if self.once {
            Next::Exit
        } else if self.mode == Mode::LongPoll {
            // The next request blocks anyway.
            Next::Now
        } else {
            // With plain polling a change is no reason to wait less.
            Next::After(self.interval.saturating_sub(elapsed))
        }
    }

    /// A transient failure: of the request (`status` when the server
    /// answered) or of applying its answer (`query` is `None`). Returns the
    /// pause before the retry, or `None` when `--once` gives up.
    pub fn failed(
        &mut self,
        query: Option<&ManifestQuery>,
        status: Option<u16>,
    ) -> Option<Duration> {
        // 400 (`since` or `wait` not understood), 405 or 501: ask more
        // plainly. A 404 or 429 is about the app or the load, and is retried
        // like any other transient failure.
        if matches!(status, Some(400 | 405 | 501)) {
            match query {
                Some(ManifestQuery::LongPoll { .. }) => self.mode = Mode::Deltas,
                Some(ManifestQuery::Since { .. }) => self.mode = Mode::Conditional,
                _ => {}
            }
        }
        self.need_full = true;
        let delay = self.backoff.next_delay();
        if self.once && self.backoff.failures() >= ONCE_ATTEMPTS {
            return None;
        }
        Some(delay)
    }
}

#[cfg(test)]
#[path = "poller_tests.rs"]
mod tests;
