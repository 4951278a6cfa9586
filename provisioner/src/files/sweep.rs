//! When the blob sweep runs: once enough content was made unreferenced.
//!
//! Each write tells how much stored content it replaced or deleted
//! ([`Garbage`]). The service adds it up in memory and, once that estimate
//! reaches the policy (or at the first write after start), asks the store
//! for the exact count, which survives restarts and sees the writes of every
//! instance sharing the database, and sweeps when that is due. One sweep runs
//! at a time per instance; the store's sweep is safe to run from several.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::store::{FileStore, Garbage};

/// How much garbage makes a sweep worth its pass over every blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepPolicy {
    /// Bytes of unreferenced content.
    pub garbage_bytes: u64,
    /// Unreferenced blobs, for many small files whose bytes add up slowly
    /// but whose rows and index entries still cost.
    pub garbage_blobs: u64,
}

/// Whether `pending` garbage calls for a sweep under `policy`.
pub fn sweep_due(pending: Garbage, policy: SweepPolicy) -> bool {
    (pending.bytes > 0 && pending.bytes >= policy.garbage_bytes)
        || (pending.blobs > 0 && pending.blobs >= policy.garbage_blobs)
}

/// The sweep's trigger, shared by the clones of one `FilesService`.
#[derive(Clone)]
pub(super) struct Sweeper {
    policy: SweepPolicy,
    /// Garbage this instance's writes made since the store was last asked.
    estimate_bytes: Arc<AtomicU64>,
    estimate_blobs: Arc<AtomicU64>,
    /// Whether the store was asked since start.
    asked: Arc<AtomicBool>,
    /// Whether a check (and maybe a sweep) is running.
    running: Arc<AtomicBool>,
}

impl Sweeper {
    pub(super) fn new(policy: SweepPolicy) -> Sweeper {
        Sweeper {
            policy,
            estimate_bytes: Arc::default(),
            estimate_blobs: Arc::default(),
            asked: Arc::default(),
            running: Arc::default(),
        }
    }

    /// Counts a write's garbage and, when due, checks the store's count and
    /// sweeps in the background: the write has answered already.
    pub(super) fn after_write(&self, store: &Arc<dyn FileStore>, garbage: Garbage) {
        self.estimate_bytes
            .fetch_add(garbage.bytes, Ordering::AcqRel);
        self.estimate_blobs
            .fetch_add(garbage.blobs, Ordering::AcqRel);
        if !self.take_turn() {
            return;
        }
        let (store, sweeper) = (store.clone(), self.clone());
        tokio::spawn(async move {
            loop {
                sweeper.check_and_sweep(store.as_ref()).await;
                sweeper.running.store(false, Ordering::Release);
                // A write that came while this ran found it running and
                // left the check to it.
                if !sweeper.take_turn() {
                    break;
                }
            }
        });
    }

    /// Whether a check is due (the first after start, or the estimate
    /// reached the policy) and no other runs; if so, this caller runs it.
    fn take_turn(&self) -> bool {
        let estimate = Garbage {
            bytes: self.estimate_bytes.load(Ordering::Acquire),
            blobs: self.estimate_blobs.load(Ordering::Acquire),
        };
        let first = !self.asked.load(Ordering::Acquire);
        if !(first || sweep_due(estimate, self.policy)) {
            return false;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.asked.store(true, Ordering::Release);
        self.estimate_bytes.store(0, Ordering::Release);
        self.estimate_blobs.store(0, Ordering::Release);
        true
    }

    async fn check_and_sweep(&self, store: &dyn FileStore) {
        let started = std::time::Instant::now();
        let outcome = match store.blob_garbage().await {
            Ok(books) if sweep_due(books.pending, self.policy) => {
                store.remove_unreferenced_blobs().await
            }
            Ok(books) => {
                // Not due yet: the estimate goes on from the store's count
                // (garbage from before a restart, or from other instances).
                self.estimate_bytes
                    .fetch_add(books.pending.bytes, Ordering::AcqRel);
                self.estimate_blobs
                    .fetch_add(books.pending.blobs, Ordering::AcqRel);
                return;
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(removed) => tracing::info!(
                removed_blobs = removed.blobs,
                removed_bytes = removed.bytes,
                elapsed_ms = started.elapsed().as_millis(),
                "unreferenced blobs removed"
            ),
            Err(error) => tracing::warn!(
                error.message = %error,
                error.cause_chain = ?error,
                "removing unreferenced blobs failed; retried after later writes"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_is_due_when_either_count_reaches_the_policy() {
        let policy = SweepPolicy {
            garbage_bytes: 1000,
            garbage_blobs: 10,
        };
        let cases = [
            ("no garbage", 0, 0, false),
            ("little garbage", 999, 9, false),
            ("bytes reach the policy", 1000, 1, true),
            ("blobs reach the policy", 10, 10, true),
            ("many bytes in one blob", 5000, 1, true),
        ];
        for (rule, bytes, blobs, due) in cases {
            assert_eq!(sweep_due(Garbage { bytes, blobs }, policy), due, "{rule}");
        }
        let never = SweepPolicy {
            garbage_bytes: 0,
            garbage_blobs: 0,
        };
        assert!(
            !sweep_due(Garbage::default(), never),
            "a policy of zero sweeps only when there is garbage"
        );
        assert!(sweep_due(Garbage { bytes: 1, blobs: 1 }, never));
    }
}
