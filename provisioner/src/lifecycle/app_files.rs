//! What the lifecycle needs from the files side: a sync token for a new
//! preview, the app's current files revision, what the daemon last
//! reported, and where the files came from (the app's last git import). A trait so the lifecycle and its tests do not depend on how
//! files are stored.

use std::sync::Arc;

use async_trait::async_trait;
use sync_protocol::render::RenderReport;
use sync_protocol::{AppId, DevServerState, RuntimeReport, SyncToken};

use crate::import::ImportReport;
use crate::store::{FileStore, ImportStore, SyncTokenStore};

/// The daemon's last `sync-status` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncStatus {
    pub applied_revision: u64,
    pub dev_server: DevServerState,
    /// The daemon's note: paths it could not apply, or for a crashed or
    /// unresponsive dev server, why, with its last output.
    pub message: Option<String>,
    pub runtime: Option<RuntimeReport>,
    /// What the preview shows for the revision it applied.
    pub render: Option<RenderReport>,
}

#[async_trait]
pub trait AppFiles: Send + Sync + 'static {
    /// Mints a sync token for the app's daemon.
    async fn mint_sync_token(&self, app_id: &AppId) -> anyhow::Result<SyncToken>;

    /// Ends every sync token of the app: a destroyed preview's token must
    /// not keep reading the app's files.
    async fn revoke_sync_tokens(&self, app_id: &AppId) -> anyhow::Result<u64>;

    /// The app's current files revision (0 when it holds no files).
    async fn files_revision(&self, app_id: &AppId) -> anyhow::Result<u64>;

    /// The daemon's last report, if it has reported.
    async fn sync_status(&self, app_id: &AppId) -> anyhow::Result<Option<SyncStatus>>;

    /// The app's last import from git, if its files came from one.
    async fn last_import(&self, _app_id: &AppId) -> anyhow::Result<Option<ImportReport>> {
        Ok(None)
    }
}

/// [`AppFiles`] over the provisioner's own stores.
pub struct StoreAppFiles {
    pub files: Arc<dyn FileStore>,
    pub tokens: Arc<dyn SyncTokenStore>,
    pub imports: Arc<dyn ImportStore>,
}

#[async_trait]
impl AppFiles for StoreAppFiles {
    async fn mint_sync_token(&self, app_id: &AppId) -> anyhow::Result<SyncToken> {
        let token = SyncToken::new(app_id.clone(), rand::random());
        // Older tokens stay valid, so a machine made by an earlier attempt keeps syncing.
        self.tokens.add_sync_token(app_id, &token.digest()).await?;
        Ok(token)
    }

    async fn revoke_sync_tokens(&self, app_id: &AppId) -> anyhow::Result<u64> {
        Ok(self.tokens.revoke_sync_tokens(app_id).await?)
    }

    async fn files_revision(&self, app_id: &AppId) -> anyhow::Result<u64> {
        Ok(self.files.revision(app_id).await?)
    }

    async fn sync_status(&self, app_id: &AppId) -> anyhow::Result<Option<SyncStatus>> {
        let status = self.tokens.sync_status(app_id).await?;
        Ok(status.map(|status| SyncStatus {
            applied_revision: status.report.revision,
            dev_server: status.report.dev_server,
            message: status.report.message,
            runtime: status.report.runtime,
            render: status.report.render,
        }))
    }

    async fn last_import(&self, app_id: &AppId) -> anyhow::Result<Option<ImportReport>> {
        Ok(self.imports.last_import(app_id).await?)
    }
}
