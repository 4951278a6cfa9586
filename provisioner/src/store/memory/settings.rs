//! `AppSettingsStore` for the in-memory store.

use async_trait::async_trait;
use sync_protocol::AppId;

use super::MemoryStore;
use crate::settings::AppSettings;
use crate::store::StoreError;
use crate::store::settings::AppSettingsStore;

#[async_trait]
impl AppSettingsStore for MemoryStore {
    async fn app_settings(&self, app_id: &AppId) -> Result<Option<(AppSettings, u64)>, StoreError> {
        Ok(self.state().settings.get(app_id).cloned())
    }

    async fn save_app_settings(
        &self,
        app_id: &AppId,
        settings: &AppSettings,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let current = state.settings.get(app_id).map(|(_, version)| *version);
        if current != expected {
            return Ok(false);
        }
        let version = expected.map_or(1, |version| version + 1);
        state
            .settings
            .insert(app_id.clone(), (settings.clone(), version));
        Ok(true)
    }
}
