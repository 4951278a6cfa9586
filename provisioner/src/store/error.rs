//! The one error every store trait returns, so a busy database means the
//! same thing (retry shortly: 503) on the files path and the preview path.

/// What a store operation refused or failed at.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Change `index` of the write deletes a path the app does not hold.
    #[error("no file at {path}")]
    FileNotFound {
        index: usize,
        path: sync_protocol::FilePath,
    },
    /// `file` is (or would be) a file, and the write puts `beneath` under it.
    #[error("{file:?} is a file, so {beneath:?} cannot be beneath it")]
    FileDirectoryConflict { file: String, beneath: String },
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

impl StoreError {
    /// Whether the same request is worth retrying shortly as it is.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }

    /// A stored value that no longer decodes: a server-side problem.
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(anyhow::anyhow!("{what}"))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        if is_busy(&error) {
            StoreError::Busy(error.into())
        } else {
            StoreError::Backend(error.into())
        }
    }
}

fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut => true,
        // PostgreSQL: deadlock, serialization failure, lock timeout, too many connections.
        sqlx::Error::Database(database)
            if database
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            database
                .code()
                .is_some_and(|code| matches!(code.as_ref(), "40P01" | "40001" | "55P03" | "53300"))
        }
        // SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes in the low byte.
        sqlx::Error::Database(database) => database
            .code()
            .and_then(|code| code.parse::<u32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
}
