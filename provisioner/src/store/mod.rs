//! Persistence: files (content-addressed blobs, revisions, history), sync
//! tokens and previews, behind traits that SQLite and PostgreSQL both fill.
//!
//! Handlers and domain services hold `Arc<dyn FileStore>` and
//! `Arc<dyn SyncTokenStore>`; only the backend modules (`sqlite*`,
//! `postgres*`) know SQL. A backend checks the per-app limits inside the
//! write's own transaction, so two concurrent writes cannot both slip under a limit.

mod backend;
mod postgres;
mod postgres_files;
mod postgres_listen;
mod postgres_previews;
mod postgres_tokens;
mod postgres_write;
pub mod previews;
pub mod previews_memory;
mod previews_sqlite;
mod sqlite;
mod sqlite_files;
#[cfg(test)]
mod sqlite_tests;
mod sqlite_tokens;

use async_trait::async_trait;
use bytes::Bytes;
use sync_protocol::{AppId, FileEntry, FilePath, SyncStatusReport};
use time::OffsetDateTime;

pub use backend::Backend;
pub use postgres::{LISTENER_APPLICATION, PostgresStore};
pub use sqlite::SqliteStore;

/// Runs a store write on a task of its own, so it finishes even when the
/// request that asked for it is dropped (the client hung up mid-request). A
/// transaction cut off between `BEGIN IMMEDIATE` and its end can leave the
/// connection holding SQLite's write lock, and every other writer then waits
/// out its busy timeout; a write that runs to completion cannot.
pub async fn run_to_completion<T, W>(write: W) -> Result<T, StoreError>
where
    T: Send + 'static,
    W: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match tokio::spawn(write).await {
        Ok(result) => result,
        Err(join_error) => Err(StoreError::Backend(anyhow::anyhow!(
            "store write task failed: {join_error}"
        ))),
    }
}

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The revision holding the write; the previous one when nothing changed.
    pub revision: u64,
    /// Files added, changed or deleted.
    pub changed: u64,
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Change `index` of the write deletes a path the app does not hold.
    #[error("no file at {path}")]
    FileNotFound { index: usize, path: FilePath },
    #[error("the app would hold {would_hold} files; the limit is {limit}")]
    TooManyFiles { would_hold: u64, limit: u64 },
    #[error("the app would hold {would_hold} bytes; the limit is {limit}")]
    TooManyBytes { would_hold: u64, limit: u64 },
    /// The database is locked or out of connections for longer than its
    /// timeout: worth retrying shortly.
    #[error("the database is busy: {0}")]
    Busy(anyhow::Error),
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        let busy = match &error {
            sqlx::Error::PoolTimedOut => true,
            // PostgreSQL: deadlock, serialization failure, lock timeout, too many connections.
            sqlx::Error::Database(database)
                if database
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some() =>
            {
                database.code().is_some_and(|code| {
                    matches!(code.as_ref(), "40P01" | "40001" | "55P03" | "53300")
                })
            }
            // SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes in the low byte.
            sqlx::Error::Database(database) => database
                .code()
                .and_then(|code| code.parse::<u32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
            _ => false,
        };
        if busy {
            StoreError::Busy(error.into())
        } else {
            StoreError::Backend(error.into())
        }
    }
}

#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Applies every change in one revision, or none of them. A write that
    /// changes nothing (same content saved again) keeps the revision.
    async fn apply(
        &self,
        app_id: &AppId,
        changes: &[FileChange],
        limits: AppLimits,
    ) -> Result<WriteOutcome, StoreError>;

    /// The app's current revision; 0 for an app never written to.
    async fn revision(&self, app_id: &AppId) -> Result<u64, StoreError>;

    async fn manifest(&self, app_id: &AppId) -> Result<Manifest, StoreError>;

    /// What changed after revision `since`.
    async fn changes_since(&self, app_id: &AppId, since: u64) -> Result<Changes, StoreError>;

    /// The current content at `path`, if the app holds it.
    async fn read_file(&self, app_id: &AppId, path: &FilePath) -> Result<Option<Blob>, StoreError>;

    /// The sizes of those of `sha256s` the app's current manifest references,
    /// in no order. A blob another app holds is not visible here.
    async fn referenced_blobs(
        &self,
        app_id: &AppId,
        sha256s: &[String],
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// Content by hash, only if the app's current manifest references it.
    async fn read_blob(&self, app_id: &AppId, sha256: &str) -> Result<Option<Bytes>, StoreError>;

    /// Deletes the blobs no app's current files reference and returns how
    /// many went. Saving replaces content all day, so without this the blobs
    /// of every old version would stay forever.
    async fn remove_unreferenced_blobs(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[async_trait]
pub trait SyncTokenStore: Send + Sync + 'static {
    /// Keeps the digest of a newly minted token; older tokens stay valid.
    async fn add_sync_token(&self, app_id: &AppId, digest: &str) -> Result<(), StoreError>;

    /// The digests of every valid token of the app.
    async fn sync_token_digests(&self, app_id: &AppId) -> Result<Vec<String>, StoreError>;

    async fn record_sync_status(
        &self,
        app_id: &AppId,
        report: &SyncStatusReport,
    ) -> Result<(), StoreError>;

    /// The daemon's last report, if it ever sent one.
    async fn sync_status(&self, app_id: &AppId) -> Result<Option<SyncStatus>, StoreError>;
}

/// A report's runtime as the JSON text both backends keep.
fn encode_runtime(report: &SyncStatusReport) -> Result<Option<String>, StoreError> {
    let Some(runtime) = &report.runtime else {
        return Ok(None);
    };
    let text = serde_json::to_string(runtime).map_err(anyhow::Error::from)?;
    Ok(Some(text))
}

/// The kept runtime; one that no longer decodes (an older shape) reads as
/// unknown rather than failing the whole status.
fn decode_runtime(text: Option<String>) -> Option<sync_protocol::RuntimeReport> {
    serde_json::from_str(text.as_deref()?).ok()
}
