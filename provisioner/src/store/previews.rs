//! Where preview records live. The lifecycle writes a whole record at each
//! change (state, each step before and after it runs), so a crash leaves the
//! last thing that happened on disk and a restart resumes from there.

use async_trait::async_trait;
use sync_protocol::AppId;
use time::OffsetDateTime;

use super::StoreError;
use crate::lifecycle::model::{PreviewRecord, PreviewState};

#[async_trait]
pub trait PreviewStore: Send + Sync + 'static {
    async fn get_preview(&self, app_id: &AppId) -> Result<Option<PreviewRecord>, StoreError>;

    /// Inserts `record` unless the app already has one; returns whether it did.
    async fn insert_preview(&self, record: &PreviewRecord) -> Result<bool, StoreError>;

    /// Replaces the app's record (inserting it when absent). The last
    /// activity never moves back.
    async fn save_preview(&self, record: &PreviewRecord) -> Result<(), StoreError>;

    /// Every record, or those in `state`, ordered by app id.
    async fn list_previews(
        &self,
        state: Option<PreviewState>,
    ) -> Result<Vec<PreviewRecord>, StoreError>;

    /// Moves each app's last activity forward to the given instant (never back).
    async fn record_activity(&self, activity: &[(AppId, OffsetDateTime)])
    -> Result<(), StoreError>;
}
