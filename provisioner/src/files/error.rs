//! What the files domain refuses, in words that say what to change.

use sync_protocol::{MAX_BLOBS_PER_BATCH, MAX_WAIT_SECONDS, PathError};

use crate::store::StoreError;

/// Names the file a refusal is about: its path, and in a batch its index too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub index: Option<usize>,
    pub path: String,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(index) => write!(f, "change {index} ({:?})", self.path),
            None => write!(f, "{:?}", self.path),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{subject}: {source}")]
    PathInvalid { subject: Subject, source: PathError },
    #[error(
        "{subject} is {size} bytes; the limit is {limit} bytes per file (--max-file-bytes): \
         shrink or split the file"
    )]
    FileTooLarge {
        subject: Subject,
        size: u64,
        limit: u64,
    },
    #[error(
        "the app would hold {would_hold} files; the limit is {limit} (--max-files-per-app): \
         delete files first"
    )]
    AppFileLimit { would_hold: u64, limit: u64 },
    #[error(
        "the app would hold {would_hold} bytes; the limit is {limit} (--max-bytes-per-app): \
         delete or shrink files first"
    )]
    AppSizeLimit { would_hold: u64, limit: u64 },
    #[error(
        "{file:?} is a file, so {beneath:?} cannot be written beneath it: \
         delete or rename one of the two first"
    )]
    FileDirectoryConflict { file: String, beneath: String },
    #[error("{subject}: no such file")]
    FileNotFound { subject: Subject },
    #[error("{0}")]
    BatchInvalid(String),
    #[error("the app holds no file with sha256 {sha256}; fetch the manifest again")]
    BlobNotFound { sha256: String },
    #[error("{0:?} is not a sha256; use 64 lower-case hex digits")]
    Sha256Invalid(String),
    #[error("asked for {0} blobs; ask for at most {MAX_BLOBS_PER_BATCH} per request")]
    TooManyBlobs(usize),
    #[error("wait is {0} seconds; use at most {MAX_WAIT_SECONDS}")]
    WaitTooLong(u64),
    #[error("the store is busy; retry shortly")]
    Busy(anyhow::Error),
    #[error(transparent)]
    Store(anyhow::Error),
}

impl FilesError {
    /// Maps a store refusal; in a `batch` the refusal names the change by index.
    pub(crate) fn from_store(error: StoreError, batch: bool) -> FilesError {
        match error {
            StoreError::FileNotFound { index, path } => FilesError::FileNotFound {
                subject: Subject {
                    index: batch.then_some(index),
                    path: path.to_string(),
                },
            },
            StoreError::FileDirectoryConflict { file, beneath } => {
                FilesError::FileDirectoryConflict { file, beneath }
            }
            StoreError::TooManyFiles { would_hold, limit } => {
                FilesError::AppFileLimit { would_hold, limit }
            }
            StoreError::TooManyBytes { would_hold, limit } => {
                FilesError::AppSizeLimit { would_hold, limit }
            }
            StoreError::Busy(cause) => FilesError::Busy(cause),
            StoreError::Backend(cause) => FilesError::Store(cause),
        }
    }
}

impl From<StoreError> for FilesError {
    fn from(error: StoreError) -> FilesError {
        FilesError::from_store(error, false)
    }
}
