//! The files domain: writes that each make one revision, manifests and
//! deltas, long-polls, and content by path or by hash.
//!
//! It knows nothing about HTTP. It checks what can be checked without the
//! store (paths, per-file size, the wait bound), leaves the per-app limits to
//! the store's transaction, and publishes each committed revision to the
//! [`RevisionNotifier`] so long-polls wake.

mod batch;
mod blobs;
mod carried;
mod error;
mod inline;
mod notifier;
mod sweep;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use sync_protocol::{AppId, BatchChange, FilePath, MAX_WAIT_SECONDS};

pub use batch::parse_changes;
pub use blobs::BlobBatch;
pub use carried::{Published, WrittenChanges};
pub use error::{FilesError, Subject};
pub use notifier::{RevisionNotifier, WaitOutcome};
pub use sweep::{SweepPolicy, sweep_due};

use crate::config::LimitsArgs;
use crate::store::{
    AppLimits, Blob, BlobGarbage, Changes, FileChange, FileStore, Manifest, WriteOutcome,
};

/// What changed after a revision, and, when the write that made the next
/// revision woke the wait, that write's changes (its small contents too).
#[derive(Debug)]
pub struct Answer {
    pub changes: Changes,
    pub written: Option<Arc<WrittenChanges>>,
}

/// The size and count rules, from the command line.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub app: AppLimits,
    /// When unreferenced content is swept.
    pub sweep: SweepPolicy,
}

impl Limits {
    pub fn from_args(args: &LimitsArgs) -> Limits {
        Limits {
            max_file_bytes: args.max_file_bytes,
            app: AppLimits {
                max_files_per_app: args.max_files_per_app,
                max_bytes_per_app: args.max_bytes_per_app,
                history_revisions: args.history_revisions,
            },
            sweep: SweepPolicy {
                garbage_bytes: args.sweep_after_garbage_bytes,
                garbage_blobs: args.sweep_after_garbage_blobs,
            },
        }
    }

    pub(crate) fn check_file_size(&self, subject: &Subject, size: usize) -> Result<(), FilesError> {
        let size = size as u64;
        if size > self.max_file_bytes {
            return Err(FilesError::FileTooLarge {
                subject: subject.clone(),
                size,
                limit: self.max_file_bytes,
            });
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct FilesService {
    store: Arc<dyn FileStore>,
    limits: Limits,
    notifier: RevisionNotifier,
    /// Writes that made a new revision, for `/metrics`.
    writes: Arc<AtomicU64>,
    /// When the blob sweep runs.
    sweeper: sweep::Sweeper,
    /// The store's identity, read once at start: every manifest answer carries it.
    store_id: Arc<str>,
}

impl FilesService {
    pub fn new(store: Arc<dyn FileStore>, limits: Limits, store_id: &str) -> FilesService {
        FilesService {
            store,
            limits,
            store_id: Arc::from(store_id),
            notifier: RevisionNotifier::default(),
            writes: Arc::default(),
            sweeper: sweep::Sweeper::new(limits.sweep),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The identity of the store behind this service.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    pub fn notifier(&self) -> &RevisionNotifier {
        &self.notifier
    }

    /// Writes that made a new revision since start.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// The garbage waiting for the blob sweep and what sweeps removed.
    pub async fn blob_garbage(&self) -> Result<BlobGarbage, FilesError> {
        Ok(self.store.blob_garbage().await?)
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id, path = %path, size = content.len()))]
    pub async fn put(
        &self,
        app_id: &AppId,
        path: FilePath,
        content: Bytes,
    ) -> Result<WriteOutcome, FilesError> {
        let subject = Subject {
            index: None,
            path: path.to_string(),
        };
        self.limits.check_file_size(&subject, content.len())?;
        let change = FileChange {
            path,
            content: Some(blob_of(content)),
        };
        self.apply(app_id, &[change], false).await
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id, path = %path))]
    pub async fn delete(&self, app_id: &AppId, path: FilePath) -> Result<WriteOutcome, FilesError> {
        self.apply(
            app_id,
            &[FileChange {
                path,
                content: None,
            }],
            false,
        )
        .await
    }

    /// All changes in one revision, or none.
    #[tracing::instrument(skip_all, fields(app_id = %app_id, changes = changes.len()))]
    pub async fn batch(
        &self,
        app_id: &AppId,
        changes: Vec<BatchChange>,
    ) -> Result<WriteOutcome, FilesError> {
        let changes = parse_changes(changes, &self.limits)?;
        self.apply(app_id, &changes, true).await
    }

    pub async fn revision(&self, app_id: &AppId) -> Result<u64, FilesError> {
        Ok(self.store.revision(app_id).await?)
    }

    pub async fn manifest(&self, app_id: &AppId) -> Result<Manifest, FilesError> {
        Ok(self.store.manifest(app_id).await?)
    }

    /// What changed after `since`, waiting up to `wait` for a change when
    /// there is none yet. `None` means still unchanged: the caller answers 304.
    #[tracing::instrument(skip_all, fields(app_id = %app_id, since, wait_seconds = wait_seconds))]
    pub async fn changes_since(
        &self,
        app_id: &AppId,
        since: u64,
        wait_seconds: u64,
    ) -> Result<Option<Answer>, FilesError> {
        if wait_seconds > MAX_WAIT_SECONDS {
            return Err(FilesError::WaitTooLong(wait_seconds));
        }
        let mut receiver = self.notifier.subscribe(app_id);
        let mut revision = self.store.revision(app_id).await?;
        if revision == since && wait_seconds > 0 {
            // No store connection is held while waiting.
            let wait = Duration::from_secs(wait_seconds);
            if self.notifier.wait_past(&mut receiver, since, wait).await == WaitOutcome::Moved {
                let carried = receiver.borrow().delta_after(since);
                if let Some((changes, written)) = carried {
                    return Ok(Some(Answer {
                        changes,
                        written: Some(written),
                    }));
                }
                revision = self.store.revision(app_id).await?;
            }
        }
        if revision == since {
            return Ok(None);
        }
        Ok(Some(Answer {
            changes: self.store.changes_since(app_id, since).await?,
            written: None,
        }))
    }

    pub async fn read_file(&self, app_id: &AppId, path: &FilePath) -> Result<Blob, FilesError> {
        self.store
            .read_file(app_id, path)
            .await?
            .ok_or_else(|| FilesError::FileNotFound {
                subject: Subject {
                    index: None,
                    path: path.to_string(),
                },
            })
    }

    /// Content by hash; only blobs the app's current manifest references.
    pub async fn read_blob(&self, app_id: &AppId, sha256: &str) -> Result<Bytes, FilesError> {
        check_sha256(sha256)?;
        self.store
            .read_blob(app_id, sha256)
            .await?
            .ok_or_else(|| FilesError::BlobNotFound {
                sha256: sha256.to_owned(),
            })
    }

    async fn apply(
        &self,
        app_id: &AppId,
        changes: &[FileChange],
        batch: bool,
    ) -> Result<WriteOutcome, FilesError> {
        let mut outcome = self
            .store
            .apply(app_id, changes, self.limits.app)
            .await
            .map_err(|error| FilesError::from_store(error, batch))?;
        if outcome.changed > 0 {
            self.writes.fetch_add(1, Ordering::Relaxed);
            let written = outcome
                .delta
                .take()
                .and_then(|delta| WrittenChanges::of(delta, changes));
            match written {
                Some(written) => {
                    self.notifier
                        .publish_written(app_id, outcome.revision, written);
                }
                None => self.notifier.publish(app_id, outcome.revision),
            }
            self.sweeper.after_write(&self.store, outcome.garbage);
        }
        tracing::info!(
            revision = outcome.revision,
            changed = outcome.changed,
            "files written"
        );
        Ok(outcome)
    }
}

fn check_sha256(sha256: &str) -> Result<(), FilesError> {
    if sync_protocol::is_sha256_hex(sha256) {
        Ok(())
    } else {
        Err(FilesError::Sha256Invalid(sha256.to_owned()))
    }
}

/// Hashes content once, where it enters the domain.
fn blob_of(bytes: Bytes) -> Blob {
    Blob {
        sha256: sync_protocol::sha256_hex(&bytes),
        bytes,
    }
}
