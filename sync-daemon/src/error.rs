//! The daemon's two kinds of failure, split as watchexec splits them.
//!
//! A [`RuntimeError`] is transient: the cycle that met it is abandoned,
//! logged, and retried after a backoff. A [`CriticalError`] means retrying
//! cannot help (bad token, unwritable directory, bad flags): the daemon exits
//! non-zero with its message.

use std::path::PathBuf;

/// Stops the daemon.
#[derive(Debug, thiserror::Error)]
pub enum CriticalError {
    #[error("{0}")]
    Config(String),
    #[error("the server refused the sync token (HTTP {status}); mint a new one for this app")]
    BadToken { status: u16 },
    #[error("{} is not writable: {source}", path.display())]
    NotWritable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} and {} are on different filesystems and the fallback failed", dir.display(), state_dir.display())]
    CrossDevice { dir: PathBuf, state_dir: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the preview gateway cannot listen on {address}: {source}; free that port or set PORT to another"
    )]
    GatewayBind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Abandons one cycle; the next one starts from a fresh manifest.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("blob {expected} arrived with sha256 {actual}")]
    HashMismatch { expected: String, actual: String },
    #[error("blob {sha256} is short: expected {expected} bytes, got {actual}")]
    ShortBlob {
        sha256: String,
        expected: u64,
        actual: u64,
    },
    #[error("manifest from {url} is not valid JSON: {source}")]
    Decode {
        url: String,
        source: serde_json::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Either kind, for code that can meet both.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Critical(#[from] CriticalError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl RuntimeError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Writes that fail because the tree is read-only or not ours are not worth
/// retrying; everything else (ENOSPC, a vanished directory) may pass.
pub fn io_error(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
    let path = path.into();
    match source.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            Error::Critical(CriticalError::NotWritable { path, source })
        }
        _ => Error::Runtime(RuntimeError::Io { path, source }),
    }
}
