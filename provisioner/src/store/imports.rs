//! Where each app's last import from git is kept: one small document per
//! app (`import::ImportReport` as JSON, migration 0012), replaced as each
//! step of an import starts and ends, read by the preview resource
//! (`source`) and its event stream (`import` events).

use async_trait::async_trait;
use sync_protocol::AppId;

use super::StoreError;
use crate::import::ImportReport;

#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// The app's last import; `None` for an app never imported.
    async fn last_import(&self, app_id: &AppId) -> Result<Option<ImportReport>, StoreError>;

    /// Replaces the app's last import with `report`.
    async fn save_import(&self, app_id: &AppId, report: &ImportReport) -> Result<(), StoreError>;
}
