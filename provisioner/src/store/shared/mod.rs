//! The SQL both dialects accept, written once.
//!
//! sqlx takes `$N` placeholders on SQLite as on PostgreSQL, and the schemas
//! are the same table for table, so every statement whose text is the same
//! in both lives here. Each macro below expands the one implementation for a
//! concrete store (`SqliteStore`, `PostgresStore`): concrete types keep the
//! statements plain sqlx calls, where generic code would have to restate
//! sqlx's bounds at every function. What truly differs is asked of the
//! store, by name, and lives in `sqlite/` and `postgres/`:
//!
//! - `begin_write()`: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's plain `BEGIN`;
//! - `begin_snapshot()`: a read transaction that sees one snapshot;
//! - `LOCK_APP_ROW`: how a write holds its app (nothing: SQLite's write lock
//!   is the whole file; `FOR UPDATE` on PostgreSQL);
//! - `BYTE_ORDER`: the collation that sorts text byte by byte;
//! - `GREATEST`: the larger of two values (`max` or `GREATEST`);
//! - `store_plan()`, `announce_write()`, `sweep_blob_range()`,
//!   `reclaim_free_space()` and `record_activity_rows()`: row by row on SQLite, set-based with arrays,
//!   `NOTIFY` and row locks on PostgreSQL.

pub(super) mod blobs;
pub(super) mod files;
pub(super) mod health;
pub(super) mod imports;
pub(super) mod previews;
pub(super) mod settings;
pub(super) mod tokens;

use sync_protocol::FilePath;
use time::OffsetDateTime;

use super::StoreError;

/// Both databases store integers as i64; sizes and revisions never come near its limit.
/// A document kept whole as JSON text (settings, an import report).
pub(crate) fn encode_json<T: serde::Serialize>(
    value: &T,
    what: &str,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::corrupt(format!("{what} does not encode: {error}")))
}

/// A document read back from its JSON text.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::corrupt(format!("stored {what}: {error}")))
}

pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Milliseconds since the epoch, as the `*_at_ms` columns hold times.
pub(crate) fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::corrupt(format!("stored time {ms} ms is out of range")))
}

/// Paths were validated before they were stored; one that no longer parses
/// (the rules tightened since) is a server-side problem, not the caller's.
pub(crate) fn stored_path(text: String) -> Result<FilePath, StoreError> {
    FilePath::parse(&text)
        .map_err(|error| StoreError::corrupt(format!("stored path {text:?}: {error}")))
}

/// How many paths one `IN (...)` list holds: far below either database's
/// limit on bound parameters, whatever the size of a batch.
pub(crate) const PATHS_PER_QUERY: usize = 500;

/// What a sweep page removed, from the sizes its `DELETE ... RETURNING size` gave.
pub(crate) fn removed(sizes: &[i64]) -> super::Garbage {
    super::Garbage {
        blobs: sizes.len() as u64,
        bytes: sizes.iter().map(|size| to_u64(*size)).sum(),
    }
}
