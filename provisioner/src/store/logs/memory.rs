//! `LogStore` for the in-memory test double.

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use sync_protocol::AppId;
use sync_protocol::controls::{Control, ControlKind};
use sync_protocol::logs::ShippedLine;

use super::{ControlStore, LogEntry, LogStore, MAX_LOG_LINES};
use crate::store::StoreError;
use crate::store::memory::MemoryStore;

#[derive(Debug, Default)]
pub(crate) struct MemoryLogs {
    apps: HashMap<AppId, AppLog>,
    controls: HashMap<AppId, Control>,
}

#[derive(Debug, Default)]
struct AppLog {
    last: u64,
    entries: VecDeque<LogEntry>,
}

#[async_trait]
impl LogStore for MemoryStore {
    async fn append_logs(&self, app_id: &AppId, lines: &[ShippedLine]) -> Result<u64, StoreError> {
        let mut logs = self.logs();
        let log = logs.apps.entry(app_id.clone()).or_default();
        for line in lines {
            log.last += 1;
            log.entries.push_back(LogEntry {
                cursor: log.last,
                line: line.clone(),
            });
        }
        let keep = usize::try_from(MAX_LOG_LINES).unwrap_or(usize::MAX);
        while log.entries.len() > keep {
            log.entries.pop_front();
        }
        Ok(log.last)
    }

    async fn logs_since(
        &self,
        app_id: &AppId,
        since: u64,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let logs = self.logs();
        let Some(log) = logs.apps.get(app_id) else {
            return Ok(Vec::new());
        };
        Ok(log
            .entries
            .iter()
            .filter(|entry| entry.cursor > since)
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl ControlStore for MemoryStore {
    async fn request_control(
        &self,
        app_id: &AppId,
        kind: ControlKind,
    ) -> Result<Control, StoreError> {
        let mut logs = self.logs();
        let seq = logs.controls.get(app_id).map_or(0, |control| control.seq) + 1;
        let control = Control { seq, kind };
        logs.controls.insert(app_id.clone(), control);
        Ok(control)
    }

    async fn latest_control(&self, app_id: &AppId) -> Result<Option<Control>, StoreError> {
        Ok(self.logs().controls.get(app_id).copied())
    }
}
