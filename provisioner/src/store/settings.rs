//! Where each app's settings live. A settings document is small and written
//! rarely, so it is stored whole (JSON) with a version: a `PATCH` reads,
//! decides with the pure `settings::apply_patch`, and saves only if no one
//! saved in between, so two editors patching at once never lose a field.

use async_trait::async_trait;
use sync_protocol::AppId;

use super::StoreError;
use crate::settings::AppSettings;

#[async_trait]
pub trait AppSettingsStore: Send + Sync + 'static {
    /// The app's settings and their version; `None` for an app never configured.
    async fn app_settings(&self, app_id: &AppId) -> Result<Option<(AppSettings, u64)>, StoreError>;

    /// Saves `settings` if the stored version is still `expected` (`None`:
    /// nothing stored yet). Answers whether it saved; the new version is
    /// `expected + 1` (1 for the first save).
    async fn save_app_settings(
        &self,
        app_id: &AppId,
        settings: &AppSettings,
        expected: Option<u64>,
    ) -> Result<bool, StoreError>;
}
