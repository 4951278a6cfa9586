//! `ImportStore` for the in-memory store.

use async_trait::async_trait;
use sync_protocol::AppId;

use super::MemoryStore;
use crate::import::ImportReport;
use crate::store::StoreError;
use crate::store::imports::ImportStore;

#[async_trait]
impl ImportStore for MemoryStore {
    async fn last_import(&self, app_id: &AppId) -> Result<Option<ImportReport>, StoreError> {
        Ok(self.state().imports.get(app_id).cloned())
    }

    async fn save_import(&self, app_id: &AppId, report: &ImportReport) -> Result<(), StoreError> {
        self.state().imports.insert(app_id.clone(), report.clone());
        Ok(())
    }
}
