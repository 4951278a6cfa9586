//! The preview as the API shows it: the record plus the URL, the files
//! revision and what the daemon last applied.

use serde::Serialize;
use sync_protocol::render::RenderReport;
use sync_protocol::{AppId, DevServerState, RuntimeReport};
use time::OffsetDateTime;

use crate::import::ImportReport;
use crate::lifecycle::app_files::SyncStatus;
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::{PreviewRecord, PreviewState, StepRecord};
use crate::lifecycle::service::LifecycleService;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Preview)]
pub struct PreviewView {
    pub app_id: AppId,
    pub state: PreviewState,
    /// Where a browser sees the preview; absent once it is deleted.
    pub url: Option<String>,
    pub steps: Vec<StepRecord>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity_at: OffsetDateTime,
    /// The app's current files revision (absent in lists, to keep them one query).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_revision: Option<u64>,
    /// The revision the preview's daemon last reported applying.
    pub applied_revision: Option<u64>,
    pub dev_server: Option<DevServerState>,
    /// What runs the app in the preview: framework, package manager,
    /// commands and ports, as its daemon last reported them.
    pub runtime: Option<RuntimeReport>,
    /// What the preview shows: `{revision, state, error}` (state `applied`,
    /// `compiled`, `error` or `rendered`), with the page's last URL and
    /// events, as its daemon last reported them.
    pub render: Option<RenderReport>,
    /// Where the app's files came from, when from git (`POST .../import`):
    /// the repository (never with credentials), ref, commit, what was
    /// detected (project type, package manager, scripts) and each import
    /// step with its status, timing and log line. Absent in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ImportReport>,
    /// Why the preview is not fine: a failed step, paths its daemon could
    /// not apply, or a dev server that crashed or never answered (with its
    /// last output). A preview missing a file never shows `error: null`.
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl LifecycleService {
    /// The full view of one preview, with its files and sync status.
    pub async fn view(&self, record: PreviewRecord) -> Result<PreviewView, LifecycleError> {
        let files_revision = self
            .files
            .files_revision(&record.app_id)
            .await
            .map_err(LifecycleError::Files)?;
        let status = self
            .files
            .sync_status(&record.app_id)
            .await
            .map_err(LifecycleError::Files)?;
        let source = self
            .files
            .last_import(&record.app_id)
            .await
            .map_err(LifecycleError::Files)?;
        let mut view = self.summary_view(record);
        view.source = source;
        view.files_revision = Some(files_revision);
        view.applied_revision = status.as_ref().map(|status| status.applied_revision);
        if let Some(status) = status {
            view.dev_server = Some(status.dev_server);
            if view.error.is_none() && reports_a_problem(view.state, &status) {
                view.error = status.message;
            }
            view.runtime = status.runtime;
            view.render = status.render;
        }
        Ok(view)
    }

    /// Where a browser sees `app_id`'s preview: from its record when it has
    /// one (the platform name it was made with), else where a new one would be.
    pub async fn preview_url(&self, app_id: &AppId) -> Result<String, LifecycleError> {
        let data = self
            .load(app_id)
            .await?
            .map(|record| record.driver_data)
            .unwrap_or_default();
        Ok(self.driver.url(app_id, &data))
    }

    /// The view from the record alone, for lists.
    pub fn summary_view(&self, record: PreviewRecord) -> PreviewView {
        let url = (record.state != PreviewState::Deleted)
            .then(|| self.driver.url(&record.app_id, &record.driver_data));
        // A wake in flight is not saved as `waking` (see `run_wake`); show it anyway.
        let waking = self.wakes.is_running(&record.app_id)
            && matches!(
                record.state,
                PreviewState::Stopped | PreviewState::Suspended
            );
        PreviewView {
            url,
            state: if waking {
                PreviewState::Waking
            } else {
                record.state
            },
            steps: record.steps,
            last_activity_at: record.last_activity_at,
            files_revision: None,
            applied_revision: None,
            dev_server: None,
            runtime: None,
            render: None,
            source: None,
            error: record.error,
            created_at: record.created_at,
            updated_at: record.updated_at,
            app_id: record.app_id,
        }
    }
}

/// A running preview whose daemon could not apply some paths, or whose dev
/// server crashed or never answered, is not fine, and the view says so. The
/// daemon sends a message only for those cases.
fn reports_a_problem(state: PreviewState, status: &SyncStatus) -> bool {
    state == PreviewState::Running
        && (status.message.is_some()
            || matches!(
                status.dev_server,
                DevServerState::Crashed | DevServerState::Unresponsive
            ))
}
