//! Where preview records live. The lifecycle writes a whole record at each
//! change (state, each step before and after it runs), so a crash leaves the
//! last thing that happened on disk and a restart resumes from there.

use async_trait::async_trait;
use sync_protocol::AppId;
use time::OffsetDateTime;

use crate::lifecycle::model::{PreviewRecord, PreviewState};

#[async_trait]
pub trait PreviewStore: Send + Sync + 'static {
    async fn get_preview(&self, app_id: &AppId) -> anyhow::Result<Option<PreviewRecord>>;

    /// Inserts `record` unless the app already has one; returns whether it did.
    async fn insert_preview(&self, record: &PreviewRecord) -> anyhow::Result<bool>;

    /// Replaces the app's record (inserting it when absent).
    async fn save_preview(&self, record: &PreviewRecord) -> anyhow::Result<()>;

    /// Every record, or those in `state`, ordered by app id.
    async fn list_previews(
        &self,
        state: Option<PreviewState>,
    ) -> anyhow::Result<Vec<PreviewRecord>>;

    /// Moves each app's last activity forward to the given instant (never back).
    async fn record_activity(&self, activity: &[(AppId, OffsetDateTime)]) -> anyhow::Result<()>;
}
