//! The values the store traits take and give: no SQL, no I/O.

use bytes::Bytes;
use sync_protocol::{FileEntry, FilePath, SyncStatusReport};
use time::OffsetDateTime;

use super::StoreError;

/// One change of a write, already validated: `content` is `None` for a delete.
#[derive(Clone, Debug)]
pub struct FileChange {
    pub path: FilePath,
    pub content: Option<Blob>,
}

/// Content together with its sha256 (lower-case hex), computed once by the caller.
#[derive(Clone, Debug)]
pub struct Blob {
    pub sha256: String,
    pub bytes: Bytes,
}

impl Blob {
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// The per-app rules a write is checked against inside its transaction.
#[derive(Clone, Copy, Debug)]
pub struct AppLimits {
    pub max_files_per_app: u64,
    pub max_bytes_per_app: u64,
    /// Revisions of history kept for deltas; older `since` values get the full manifest.
    pub history_revisions: u64,
}

impl AppLimits {
    /// Refuses a write that takes the app from `before` to `after` past a
    /// limit. A write that shrinks an app already over a (lowered) limit is let through.
    pub fn check(&self, before: AppUsage, after: AppUsage) -> Result<(), StoreError> {
        if after.file_count > self.max_files_per_app && after.file_count > before.file_count {
            return Err(StoreError::TooManyFiles {
                would_hold: after.file_count,
                limit: self.max_files_per_app,
            });
        }
        if after.total_bytes > self.max_bytes_per_app && after.total_bytes > before.total_bytes {
            return Err(StoreError::TooManyBytes {
                would_hold: after.total_bytes,
                limit: self.max_bytes_per_app,
            });
        }
        Ok(())
    }

    /// The oldest `since` a delta can still answer once `revision` is
    /// written, given the floor so far: deletions at or below it may be pruned.
    pub fn history_floor(&self, floor: u64, revision: u64) -> u64 {
        floor.max(revision.saturating_sub(self.history_revisions))
    }
}

/// How much of the per-app limits an app uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppUsage {
    pub file_count: u64,
    pub total_bytes: u64,
}

impl AppUsage {
    /// A file of `new_size` bytes replaces one of `old_size` (`None`: a new path).
    pub fn put(&mut self, old_size: Option<u64>, new_size: u64) {
        if old_size.is_none() {
            self.file_count += 1;
        }
        self.total_bytes = self.total_bytes + new_size - old_size.unwrap_or(0);
    }

    /// A file of `size` bytes goes.
    pub fn delete(&mut self, size: u64) {
        self.file_count -= 1;
        self.total_bytes -= size;
    }
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The revision holding the write; the previous one when nothing changed.
    pub revision: u64,
    /// Files added, changed or deleted.
    pub changed: u64,
    /// The stored content the write replaced or deleted.
    pub garbage: Garbage,
    /// What the new revision changed, as the store's delta from the
    /// revision before it lists it; `None` when nothing changed. The
    /// long-polls the write wakes are answered from it, with no read.
    pub delta: Option<RevisionDelta>,
}

/// The changes one revision made, listed as a delta from the revision
/// before it lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionDelta {
    /// The paths the revision left holding content, by path.
    pub files: Vec<FileEntry>,
    /// The paths it deleted, by path.
    pub deleted: Vec<FilePath>,
    /// The history floor after the write: no delta is kept from below it.
    pub history_floor: u64,
}

/// Stored content no longer held by the file that held it: candidates for
/// the blob sweep. An upper bound of what the sweep finds, since another
/// file (or a later write) may still hold the same content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Garbage {
    pub blobs: u64,
    pub bytes: u64,
}

impl std::ops::Add for Garbage {
    type Output = Garbage;

    fn add(self, other: Garbage) -> Garbage {
        Garbage {
            blobs: self.blobs + other.blobs,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// The blob sweep's books, kept in the store so they survive restarts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobGarbage {
    /// Content made unreferenced since the last sweep began.
    pub pending: Garbage,
    /// What every sweep so far removed.
    pub swept: Garbage,
}

/// An app's whole manifest at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub revision: u64,
    pub files: Vec<FileEntry>,
}

/// The answer to "what changed after revision N".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changes {
    /// N is unknown or older than the history kept: here is everything.
    Full(Manifest),
    Delta {
        revision: u64,
        files: Vec<FileEntry>,
        deleted: Vec<FilePath>,
    },
}

/// A daemon's last report and when it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    pub report: SyncStatusReport,
    pub reported_at: OffsetDateTime,
}
