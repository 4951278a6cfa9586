//! The preview's logs: what each app's daemon ships is appended to the
//! store's bounded tail (`store::logs`), read back by cursor, and followed
//! live by streams.
//!
//! A stream wakes at once for lines appended on this instance (a broadcast
//! of the app and its newest cursor) and re-reads the store every
//! [`FOLLOW_POLL`] besides, so a line appended on another instance sharing
//! the database reaches it within that period. Streams are bounded per
//! instance: [`MAX_STREAMS_PER_APP`] per app and [`MAX_STREAMS`] in all.

pub mod controls;
mod streams;

use std::sync::Arc;
use std::time::Duration;

use sync_protocol::AppId;
use sync_protocol::logs::{LogLine, LogPage, MAX_BATCH_LINES, MAX_LINE_BYTES, ShippedLine};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast;

pub use streams::{MAX_STREAMS, MAX_STREAMS_PER_APP, StreamPermit, StreamsFull};

use crate::store::StoreError;
use crate::store::logs::{LogEntry, LogStore};

/// How often a stream re-reads the store for lines appended elsewhere.
pub const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// The most lines one `GET .../logs` answers, and one stream read takes.
pub const MAX_PAGE_LINES: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("a batch holds at most {MAX_BATCH_LINES} lines; this one holds {0}: send it in parts")]
    BatchTooLarge(usize),
    #[error(
        "line {index} is {bytes} bytes; a log line is at most {MAX_LINE_BYTES} bytes: cut it first"
    )]
    LineTooLong { index: usize, bytes: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct LogService {
    store: Arc<dyn LogStore>,
    appended: broadcast::Sender<(AppId, u64)>,
    streams: streams::Streams,
}

impl LogService {
    pub fn new(store: Arc<dyn LogStore>) -> LogService {
        LogService {
            store,
            appended: broadcast::channel(256).0,
            streams: streams::Streams::default(),
        }
    }

    /// Keeps a daemon's batch; answers the newest cursor.
    pub async fn append(&self, app_id: &AppId, lines: &[ShippedLine]) -> Result<u64, LogsError> {
        if lines.len() > MAX_BATCH_LINES {
            return Err(LogsError::BatchTooLarge(lines.len()));
        }
        if let Some((index, line)) = lines
            .iter()
            .enumerate()
            .find(|(_, line)| line.text.len() > MAX_LINE_BYTES)
        {
            return Err(LogsError::LineTooLong {
                index,
                bytes: line.text.len(),
            });
        }
        if lines.is_empty() {
            return Ok(0);
        }
        let cursor = self.store.append_logs(app_id, lines).await?;
        let _ = self.appended.send((app_id.clone(), cursor));
        Ok(cursor)
    }

    /// The lines after `since` (at most `limit`, itself at most
    /// [`MAX_PAGE_LINES`]), each with its cursor.
    pub async fn since(
        &self,
        app_id: &AppId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, LogsError> {
        let limit = limit.clamp(1, MAX_PAGE_LINES);
        Ok(self.store.logs_since(app_id, since, limit).await?)
    }

    /// A page as `GET .../logs` answers it.
    pub async fn page(
        &self,
        app_id: &AppId,
        since: u64,
        limit: usize,
    ) -> Result<LogPage, LogsError> {
        let entries = self.since(app_id, since, limit).await?;
        let cursor = entries.last().map_or(since, |entry| entry.cursor);
        Ok(LogPage {
            lines: entries
                .into_iter()
                .map(|entry| public_line(entry.line))
                .collect(),
            cursor,
        })
    }

    /// Wakes on every append made through this instance.
    pub fn subscribe(&self) -> broadcast::Receiver<(AppId, u64)> {
        self.appended.subscribe()
    }

    /// A place for one more stream of `app_id`, held until dropped.
    pub fn open_stream(&self, app_id: &AppId) -> Result<StreamPermit, StreamsFull> {
        self.streams.open(app_id)
    }
}

/// A kept line as an operator reads it.
pub fn public_line(line: ShippedLine) -> LogLine {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(line.at_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    LogLine {
        at: at.format(&Rfc3339).unwrap_or_default(),
        source: line.source,
        text: line.text,
    }
}

#[cfg(test)]
mod tests {
    use sync_protocol::logs::LogSource;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn line(text: &str) -> ShippedLine {
        ShippedLine {
            at_ms: 1_764_236_096_123,
            source: LogSource::DevServer,
            text: text.to_owned(),
        }
    }

    #[tokio::test]
    async fn batches_over_the_limits_are_refused_with_what_to_change() {
        let service = LogService::new(Arc::new(MemoryStore::default()));
        let app_id = AppId::parse("limits").unwrap();
        let too_many = vec![line("x"); MAX_BATCH_LINES + 1];
        let error = service.append(&app_id, &too_many).await.unwrap_err();
        assert!(matches!(error, LogsError::BatchTooLarge(_)), "{error}");
        let too_long = [line("ok"), line(&"x".repeat(MAX_LINE_BYTES + 1))];
        let error = service.append(&app_id, &too_long).await.unwrap_err();
        assert!(
            error.to_string().starts_with("line 1 is 401 bytes"),
            "{error}"
        );
        assert!(service.since(&app_id, 0, 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_page_carries_the_lines_after_the_cursor_and_the_cursor_to_ask_from() {
        let service = LogService::new(Arc::new(MemoryStore::default()));
        let app_id = AppId::parse("pages").unwrap();
        let mut appended = service.subscribe();
        service
            .append(&app_id, &[line("a"), line("b"), line("c")])
            .await
            .unwrap();
        assert_eq!(appended.recv().await.unwrap(), (app_id.clone(), 3));
        let page = service.page(&app_id, 1, 100).await.unwrap();
        assert_eq!(page.cursor, 3);
        let texts: Vec<&str> = page.lines.iter().map(|line| line.text.as_str()).collect();
        assert_eq!(texts, ["b", "c"]);
        assert_eq!(page.lines[0].at, "2025-11-27T09:34:56.123Z");
        let empty = service.page(&app_id, 3, 100).await.unwrap();
        assert_eq!((empty.lines.len(), empty.cursor), (0, 3));
    }
}
