//! Persistence: files (content-addressed blobs, revisions, history), sync
//! tokens, previews and app settings, behind one trait per concern and one error type.
//!
//! Handlers and domain services hold `Arc<dyn FileStore>`,
//! `Arc<dyn SyncTokenStore>` and `Arc<dyn PreviewStore>`, handed out by
//! [`Backend`] already wrapped in [`RunsToCompletion`] (a write, once
//! started, finishes even if its caller goes away). Only the backends know
//! SQL: the statements both dialects accept are written once in `shared`,
//! and `sqlite/` and `postgres/` hold only what truly differs (locking,
//! `NOTIFY`, set-based statements over arrays, collation). Whether a write
//! changes anything, is refused, or is over a limit is decided once, by the
//! pure [`write_plan::plan_write`], inside the write's own transaction, so
//! two concurrent writes cannot both slip under a limit.
//!
//! The `conformance` module is the contract as tests: every backend's tests
//! call it, and `memory` is the test double that passes it too.

mod backend;
mod completing;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod coordination;
mod error;
mod health;
pub mod imports;
pub mod logs;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
mod model;
mod postgres;
pub mod previews;
pub mod settings;
mod shared;
mod sqlite;
pub(crate) mod sweep;
pub mod write_plan;

use async_trait::async_trait;
use bytes::Bytes;
use sync_protocol::{AppId, FilePath, SyncStatusReport};

pub use backend::Backend;
pub use completing::RunsToCompletion;
pub use error::StoreError;
pub use health::StoreHealth;
pub use imports::ImportStore;
pub use logs::LogStore;
pub use model::{
    AppLimits, AppUsage, Blob, BlobGarbage, Changes, FileChange, Garbage, Manifest, RevisionDelta,
    SyncStatus, WriteOutcome,
};
pub use postgres::{LISTENER_APPLICATION, PostgresCoordination, PostgresStore};
pub use sqlite::SqliteStore;

/// Blobs yielded as a store reads them.
pub type BlobStream = futures::stream::BoxStream<'static, Result<Blob, StoreError>>;

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

    /// The content of those of `sha256s` (distinct, in ascending byte
    /// order) the app's current manifest references, in that order, read by
    /// one statement and yielded as its rows arrive (`POST /blobs`).
    fn read_blobs(&self, app_id: &AppId, sha256s: &[String]) -> BlobStream;

    /// How many distinct contents are stored, referenced or not.
    async fn stored_blob_count(&self) -> Result<u64, StoreError>;

    /// Deletes the blobs no app's current files reference, a short write at
    /// a time, gives the space back where the database needs telling, and
    /// returns what went. Saving replaces content all day, so without this
    /// the blobs of every old version would stay forever.
    async fn remove_unreferenced_blobs(&self) -> Result<Garbage, StoreError>;

    /// The garbage made since the last sweep began and what sweeps removed.
    async fn blob_garbage(&self) -> Result<BlobGarbage, StoreError>;
}

#[async_trait]
pub trait SyncTokenStore: Send + Sync + 'static {
    /// Keeps the digest of a newly minted token; older tokens stay valid.
    async fn add_sync_token(&self, app_id: &AppId, digest: &str) -> Result<(), StoreError>;

    /// The digests of every valid token of the app.
    async fn sync_token_digests(&self, app_id: &AppId) -> Result<Vec<String>, StoreError>;

    /// Makes every token of the app invalid; answers how many there were.
    async fn revoke_sync_tokens(&self, app_id: &AppId) -> Result<u64, StoreError>;

    async fn record_sync_status(
        &self,
        app_id: &AppId,
        report: &SyncStatusReport,
    ) -> Result<(), StoreError>;

    /// The daemon's last report, if it ever sent one.
    async fn sync_status(&self, app_id: &AppId) -> Result<Option<SyncStatus>, StoreError>;
}
