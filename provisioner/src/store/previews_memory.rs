//! A [`PreviewStore`] in a map, for unit tests and benchmarks that should not
//! depend on a database.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use sync_protocol::AppId;
use time::OffsetDateTime;

use crate::lifecycle::model::{PreviewRecord, PreviewState};
use crate::store::previews::PreviewStore;

#[derive(Debug, Default)]
pub struct MemoryPreviewStore {
    records: Mutex<BTreeMap<AppId, PreviewRecord>>,
}

impl MemoryPreviewStore {
    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<AppId, PreviewRecord>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl PreviewStore for MemoryPreviewStore {
    async fn get_preview(&self, app_id: &AppId) -> anyhow::Result<Option<PreviewRecord>> {
        Ok(self.records().get(app_id).cloned())
    }

    async fn insert_preview(&self, record: &PreviewRecord) -> anyhow::Result<bool> {
        let mut records = self.records();
        if records.contains_key(&record.app_id) {
            return Ok(false);
        }
        records.insert(record.app_id.clone(), record.clone());
        Ok(true)
    }

    async fn save_preview(&self, record: &PreviewRecord) -> anyhow::Result<()> {
        self.records().insert(record.app_id.clone(), record.clone());
        Ok(())
    }

    async fn list_previews(
        &self,
        state: Option<PreviewState>,
    ) -> anyhow::Result<Vec<PreviewRecord>> {
        Ok(self
            .records()
            .values()
            .filter(|record| state.is_none_or(|state| record.state == state))
            .cloned()
            .collect())
    }

    async fn record_activity(&self, activity: &[(AppId, OffsetDateTime)]) -> anyhow::Result<()> {
        let mut records = self.records();
        for (app_id, at) in activity {
            if let Some(record) = records.get_mut(app_id) {
                record.last_activity_at = record.last_activity_at.max(*at);
            }
        }
        Ok(())
    }
}
