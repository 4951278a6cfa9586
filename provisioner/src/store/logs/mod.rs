//! The preview's log, kept in the store so that every instance serves the
//! same one: a bounded tail of lines per app, each with a cursor (a number
//! counted per app, never reused) that readers resume from.
//!
//! Bounded: at most [`MAX_LOG_LINES`] lines per app, each at most
//! `MAX_LINE_BYTES`, so at most [`MAX_LOG_BYTES`] of text. An append that
//! takes the tail over the bound trims the oldest lines in pages of
//! [`TRIM_PAGE`]: the first in the append's own write, any further page in
//! a short write of its own.
//!
//! `ControlStore` (`controls`) keeps the newest restart or rebuild asked of
//! each app's preview, for its daemon to act on.

mod controls;
#[cfg(any(test, feature = "testing"))]
mod memory;
mod sql;

use async_trait::async_trait;
use sync_protocol::AppId;
use sync_protocol::logs::{MAX_LINE_BYTES, ShippedLine};

pub use controls::ControlStore;
pub(crate) use controls::control_store;
#[cfg(any(test, feature = "testing"))]
pub(crate) use memory::MemoryLogs;
pub(crate) use sql::{ROWS_PER_INSERT, log_store};

use super::StoreError;

/// The most lines kept per app.
pub const MAX_LOG_LINES: u64 = 5_000;
/// The most text kept per app: every line is cut to `MAX_LINE_BYTES`.
pub const MAX_LOG_BYTES: u64 = 2 * 1024 * 1024;
const _: () = assert!(MAX_LOG_LINES * MAX_LINE_BYTES as u64 <= MAX_LOG_BYTES);
/// The most lines one trimming write removes: a whole batch, so a steady
/// flood of full batches is one write (one commit) per batch.
pub const TRIM_PAGE: u64 = sync_protocol::logs::MAX_BATCH_LINES as u64;

/// A kept line and its cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub cursor: u64,
    pub line: ShippedLine,
}

#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Appends `lines` after the app's newest line, in order, and trims the
    /// tail to [`MAX_LOG_LINES`]. Answers the cursor of the newest line.
    async fn append_logs(&self, app_id: &AppId, lines: &[ShippedLine]) -> Result<u64, StoreError>;

    /// The kept lines whose cursor is above `since`, oldest first, at most `limit`.
    async fn logs_since(
        &self,
        app_id: &AppId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError>;
}

/// The pages an append's trim removes: cursors `(low, high]` each, from
/// `trimmed_to` up to what the bound keeps after `last`.
pub(crate) fn trim_pages(last: u64, trimmed_to: u64) -> Vec<(u64, u64)> {
    let keep_from = last.saturating_sub(MAX_LOG_LINES);
    let mut pages = Vec::new();
    let mut low = trimmed_to;
    while low < keep_from {
        let high = (low + TRIM_PAGE).min(keep_from);
        pages.push((low, high));
        low = high;
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_removes_what_is_over_the_bound_in_pages() {
        type Pages = &'static [(u64, u64)];
        let cases: [(u64, u64, Pages); 6] = [
            (10, 0, &[]),
            (MAX_LOG_LINES, 0, &[]),
            (MAX_LOG_LINES + 1, 0, &[(0, 1)]),
            (
                MAX_LOG_LINES + 2_500,
                0,
                &[(0, 1_000), (1_000, 2_000), (2_000, 2_500)],
            ),
            (MAX_LOG_LINES + 1_000, 0, &[(0, 1_000)]),
            (MAX_LOG_LINES + 2_500, 2_000, &[(2_000, 2_500)]),
        ];
        for (last, trimmed_to, expected) in cases {
            assert_eq!(
                trim_pages(last, trimmed_to),
                expected,
                "{last} {trimmed_to}"
            );
        }
    }
}
