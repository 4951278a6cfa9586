//! The write decision, once for every backend: from the app's counters, the
//! stored content of the paths a write touches, the changes and the limits,
//! either a plan (what to store, what to delete, the new counters) or a
//! no-op or a refusal. Backends read the rows, call [`plan_write`] and
//! execute the plan in their own way (row by row, or set-based); none of
//! them decides anything itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use sync_protocol::{FileEntry, FilePath};

use super::{
    AppLimits, AppUsage, Blob, FileChange, Garbage, RevisionDelta, StoreError, WriteOutcome,
};

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
    /// The stored content the write replaces or deletes, counted towards
    /// the next blob sweep.
    pub garbage: Garbage,
    /// The sha256 of each content counted in `garbage`: the blobs the sweep
    /// looks at (another path or app may still hold them).
    pub given_up: Vec<String>,
}

impl WritePlan<'_> {
    /// What the write did, once stored.
    pub fn outcome(&self) -> WriteOutcome {
        let files = self
            .written
            .iter()
            .map(|(path, blob)| FileEntry {
                path: (*path).clone(),
                sha256: blob.sha256.clone(),
                size: blob.size(),
            })
            .collect();
        WriteOutcome {
            revision: self.revision,
            changed: self.changed,
            garbage: self.garbage,
            delta: Some(RevisionDelta {
                files,
                deleted: self.deleted.iter().map(|path| (*path).clone()).collect(),
                history_floor: self.history_floor,
            }),
        }
    }
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

/// What a write must read before [`plan_write`] decides it: the touched
/// paths and every directory above a path it puts (a file there would be a
/// file-directory conflict), each once.
pub fn paths_to_read(changes: &[FileChange]) -> Vec<&str> {
    let mut paths: BTreeSet<&str> = BTreeSet::new();
    for change in changes {
        paths.insert(change.path.as_str());
        if change.content.is_some() {
            paths.extend(directories_above(change.path.as_str()));
        }
    }
    paths.into_iter().collect()
}

/// The paths a write may create (it puts them and they hold nothing now):
/// for each, the write must also read what is stored beneath it, at most
/// [`beneath_limit`] paths.
pub fn may_create<'a>(
    changes: &'a [FileChange],
    stored: &HashMap<String, StoredFile>,
) -> Vec<&'a str> {
    let paths: BTreeSet<&str> = changes
        .iter()
        .filter(|change| change.content.is_some() && !stored.contains_key(change.path.as_str()))
        .map(|change| change.path.as_str())
        .collect();
    paths.into_iter().collect()
}

/// How many stored paths beneath a created path are worth reading: one more
/// than the write deletes, so at least one of them outlives the write if any does.
pub fn beneath_limit(changes: &[FileChange]) -> u64 {
    changes
        .iter()
        .filter(|change| change.content.is_none())
        .count() as u64
        + 1
}

/// The byte-order range holding every path beneath `path`: above `path/`
/// and below `path0` (`0` is the byte after `/`).
pub fn beneath_bounds(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

/// `a` and `a/b` for `a/b/c`.
fn directories_above(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(index, _)| &path[..index])
}

/// Decides a write. `stored` holds the current content of the touched paths
/// and of the directories above the paths it puts (a path missing from it
/// holds none); `stored_beneath` holds, for each path it may create, stored
/// paths beneath that path (see [`may_create`]). The changes run in order, so one
/// path may appear several times in a batch. Refuses the whole write when a
/// change deletes a path that holds nothing at that point, or when the
/// result holds a file where another path needs a directory (`a` and
/// `a/b`), or when it is over a limit; a write that changes nothing is a no-op before
/// the limits are looked at.
pub fn plan_write<'a>(
    app: AppRow,
    stored: &HashMap<String, StoredFile>,
    stored_beneath: &HashMap<String, Vec<String>>,
    changes: &'a [FileChange],
    limits: AppLimits,
) -> Result<WriteDecision<'a>, StoreError> {
    // Each touched path (by its text, so in byte order) as the changes leave it.
    let mut touched: BTreeMap<&'a str, (&'a FilePath, Slot<'_, 'a>)> = BTreeMap::new();
    let mut usage = app.usage;
    let mut changed = 0;
    for (index, change) in changes.iter().enumerate() {
        let (_, slot) = touched
            .entry(change.path.as_str())
            .or_insert_with(|| (&change.path, Slot::Stored(stored.get(change.path.as_str()))));
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
    check_file_directory_conflicts(&touched, stored, stored_beneath)?;
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
        garbage: Garbage::default(),
        given_up: Vec::new(),
    };
    for (path, slot) in touched.into_values() {
        let stored = stored.get(path.as_str());
        let garbage = replaced(stored, &slot);
        if let (Some(stored), 1..) = (stored, garbage.blobs) {
            plan.given_up.push(stored.sha256.clone());
        }
        plan.garbage = plan.garbage + garbage;
        match slot {
            Slot::Written(blob) => plan.written.push((path, blob)),
            // A path only ever saved with its own content is not touched.
            Slot::Stored(Some(_)) => {}
            Slot::Stored(None) => plan.deleted.push(path),
        }
    }
    Ok(WriteDecision::Write(plan))
}

/// The stored content a touched path gives up: none when it held nothing
/// or ends holding the same content (a batch may write it away and back).
fn replaced(stored: Option<&StoredFile>, slot: &Slot<'_, '_>) -> Garbage {
    let Some(stored) = stored else {
        return Garbage::default();
    };
    match slot {
        Slot::Written(blob) if blob.sha256 == stored.sha256 => Garbage::default(),
        Slot::Stored(Some(_)) => Garbage::default(),
        Slot::Written(_) | Slot::Stored(None) => Garbage {
            blobs: 1,
            bytes: stored.size,
        },
    }
}

/// A touched path as the changes leave it.
enum Slot<'s, 'a> {
    /// As stored; `None` holds nothing.
    Stored(Option<&'s StoredFile>),
    Written(&'a Blob),
}

impl Slot<'_, '_> {
    fn holds_file(&self) -> bool {
        matches!(self, Slot::Stored(Some(_)) | Slot::Written(_))
    }
}

/// Refuses a write that leaves a file at a path another file needs as a
/// directory. Only paths the write creates are looked at, so an app that
/// already holds such a pair (saved before the rule) can still be edited.
fn check_file_directory_conflicts(
    touched: &BTreeMap<&str, (&FilePath, Slot<'_, '_>)>,
    stored: &HashMap<String, StoredFile>,
    stored_beneath: &HashMap<String, Vec<String>>,
) -> Result<(), StoreError> {
    let holds_file = |path: &str| match touched.get(path) {
        Some((_, slot)) => slot.holds_file(),
        None => stored.contains_key(path),
    };
    let conflict = |file: &str, beneath: &str| StoreError::FileDirectoryConflict {
        file: file.to_owned(),
        beneath: beneath.to_owned(),
    };
    for (&path, (_, slot)) in touched {
        if !matches!(slot, Slot::Written(_)) || stored.contains_key(path) {
            continue;
        }
        if let Some(file) = directories_above(path).find(|above| holds_file(above)) {
            return Err(conflict(file, path));
        }
        let (low, high) = beneath_bounds(path);
        let mut written_beneath = touched
            .range::<str, _>((
                Bound::Excluded(low.as_str()),
                Bound::Excluded(high.as_str()),
            ))
            .filter(|(_, (_, slot))| slot.holds_file());
        if let Some((beneath, _)) = written_beneath.next() {
            return Err(conflict(path, beneath));
        }
        // A stored path still holds its file unless this write changed it.
        let still_stored = |beneath: &&String| {
            touched
                .get(beneath.as_str())
                .is_none_or(|(_, slot)| slot.holds_file())
        };
        let mut stored_beneath = stored_beneath.get(path).into_iter().flatten();
        if let Some(beneath) = stored_beneath.find(still_stored) {
            return Err(conflict(path, beneath));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "write_plan_tests.rs"]
mod tests;
