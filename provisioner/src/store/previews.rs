//! Where preview records live. The lifecycle writes a whole record at each
//! change (state, each step before and after it runs), so a crash leaves the
//! last thing that happened on disk and a restart resumes from there.

use anyhow::Context;
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

/// A `previews` row as both backends store it: JSON text for the maps and
/// lists, milliseconds since the epoch for times. Decoding it in one place
/// keeps the SQLite and PostgreSQL stores from drifting apart.
#[derive(sqlx::FromRow)]
pub(crate) struct PreviewRow {
    app_id: String,
    state: String,
    driver_data: String,
    steps: String,
    last_activity_at_ms: i64,
    error: Option<String>,
    state_changed_at_ms: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl PreviewRow {
    pub(crate) fn into_record(self) -> anyhow::Result<PreviewRecord> {
        let PreviewRow {
            app_id,
            state,
            driver_data,
            steps,
            ..
        } = &self;
        Ok(PreviewRecord {
            app_id: AppId::parse(app_id)
                .with_context(|| format!("stored app id {app_id:?} is invalid"))?,
            state: PreviewState::parse(state)
                .with_context(|| format!("stored preview state {state:?} is unknown"))?,
            driver_data: serde_json::from_str(driver_data)
                .context("stored driver data is not JSON")?,
            steps: serde_json::from_str(steps).context("stored steps are not JSON")?,
            last_activity_at: from_ms(self.last_activity_at_ms)?,
            error: self.error,
            state_changed_at: from_ms(self.state_changed_at_ms)?,
            created_at: from_ms(self.created_at_ms)?,
            updated_at: from_ms(self.updated_at_ms)?,
        })
    }
}

/// Milliseconds since the epoch, as the `*_at_ms` columns hold times.
pub(crate) fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .context("stored time is out of range")
}
