//! The write decision, once for every backend: from the app's counters, the
//! stored content of the paths a write touches, the changes and the limits,
//! either a plan (what to store, what to delete, the new counters) or a
//! no-op or a refusal. Backends read the rows, call [`plan_write`] and
//! execute the plan in their own way (row by row, or set-based); none of
//! them decides anything itself.

use std::collections::{BTreeMap, HashMap};

use sync_protocol::FilePath;

use super::{AppLimits, AppUsage, Blob, FileChange, StoreError};

/// The counters kept per app, read at the start of each operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppRow {
    pub revision: u64,
    pub usage: AppUsage,
    /// The oldest `since` a delta can still answer.
    pub history_floor: u64,
}

impl AppRow {
    /// Whether "what changed after `since`" can be answered as a delta; if
    /// not (too old, or a revision the app never had), the answer is everything.
    pub fn answers_delta_since(&self, since: u64) -> bool {
        since >= self.history_floor && since <= self.revision
    }
}

/// A stored file as a write compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: String,
    pub size: u64,
}

/// What a write that changes something stores.
#[derive(Debug)]
pub struct WritePlan<'a> {
    /// The revision the write makes.
    pub revision: u64,
    /// The app's counters after the write.
    pub usage: AppUsage,
    /// Tombstones at or below it are pruned.
    pub history_floor: u64,
    /// Files added, changed or deleted (a path changed twice counts twice).
    pub changed: u64,
    /// Each path the write leaves holding content, with that content, in path order.
    pub written: Vec<(&'a FilePath, &'a Blob)>,
    /// Each path the write leaves without content, in path order.
    pub deleted: Vec<&'a FilePath>,
}

/// What a write comes to.
#[derive(Debug)]
pub enum WriteDecision<'a> {
    /// Nothing changes (the same content saved again): the revision stays.
    NoOp {
        revision: u64,
    },
    Write(WritePlan<'a>),
}

/// Decides a write. `stored` holds the current content of the touched paths
/// (a path missing from it holds none). The changes run in order, so one
/// path may appear several times in a batch. Refuses the whole write when a
/// change deletes a path that holds nothing at that point, or when the
/// result is over a limit; a write that changes nothing is a no-op before
/// the limits are looked at.
pub fn plan_write<'a>(
    app: AppRow,
    stored: &HashMap<String, StoredFile>,
    changes: &'a [FileChange],
    limits: AppLimits,
) -> Result<WriteDecision<'a>, StoreError> {
    /// A touched path as the changes leave it: `None` holds nothing.
    enum Slot<'s, 'a> {
        Stored(Option<&'s StoredFile>),
        Written(&'a Blob),
    }
    let mut touched: BTreeMap<&'a FilePath, Slot<'_, 'a>> = BTreeMap::new();
    let mut usage = app.usage;
    let mut changed = 0;
    for (index, change) in changes.iter().enumerate() {
        let slot = touched
            .entry(&change.path)
            .or_insert_with(|| Slot::Stored(stored.get(change.path.as_str())));
        let current = match *slot {
            Slot::Stored(file) => file.map(|file| (file.sha256.as_str(), file.size)),
            Slot::Written(blob) => Some((blob.sha256.as_str(), blob.size())),
        };
        match (&change.content, current) {
            (Some(blob), Some((sha256, _))) if blob.sha256 == sha256 => continue,
            (Some(blob), current) => {
                usage.put(current.map(|(_, size)| size), blob.size());
                *slot = Slot::Written(blob);
            }
            (None, Some((_, size))) => {
                usage.delete(size);
                *slot = Slot::Stored(None);
            }
            (None, None) => {
                return Err(StoreError::FileNotFound {
                    index,
                    path: change.path.clone(),
                });
            }
        }
        changed += 1;
    }
    if changed == 0 {
        return Ok(WriteDecision::NoOp {
            revision: app.revision,
        });
    }
    limits.check(app.usage, usage)?;

    let revision = app.revision + 1;
    let mut plan = WritePlan {
        revision,
        usage,
        // Deletions older than the retention are forgotten; a `since` before
        // the new floor then gets the full manifest instead of a wrong delta.
        history_floor: limits.history_floor(app.history_floor, revision),
        changed,
        written: Vec::new(),
        deleted: Vec::new(),
    };
    for (path, slot) in touched {
        match slot {
            Slot::Written(blob) => plan.written.push((path, blob)),
            // A path only ever saved with its own content is not touched.
            Slot::Stored(Some(_)) => {}
            Slot::Stored(None) => plan.deleted.push(path),
        }
    }
    Ok(WriteDecision::Write(plan))
}

#[cfg(test)]
#[path = "write_plan_tests.rs"]
mod tests;
