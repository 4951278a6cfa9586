//! The preview resource as clients read it (`GET /v1/apps/{appId}/preview`,
//! provision and wake answers, SSE events): its state, its provisioning steps
//! with their logs, its URL and what its daemon last applied. The
//! provisioner's own `push` client and the end-to-end tests read these typed,
//! so a renamed field fails a build rather than an assertion on `null`.
//! Timestamps stay RFC 3339 strings: this crate does no time arithmetic.

use serde::{Deserialize, Serialize};

use crate::{AppId, DevServerState};

/// A preview's state. Transient states (`provisioning`, `waking`,
/// `stopping`, `deleting`) name a platform call in flight.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewState {
    Provisioning,
    Running,
    Waking,
    Stopping,
    Stopped,
    Suspended,
    Deleting,
    Deleted,
    /// A step failed for a reason a retry will not fix; provisioning again retries.
    Failed,
}

impl PreviewState {
    pub const ALL: [PreviewState; 9] = [
        PreviewState::Provisioning,
        PreviewState::Running,
        PreviewState::Waking,
        PreviewState::Stopping,
        PreviewState::Stopped,
        PreviewState::Suspended,
        PreviewState::Deleting,
        PreviewState::Deleted,
        PreviewState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PreviewState::Provisioning => "provisioning",
            PreviewState::Running => "running",
            PreviewState::Waking => "waking",
            PreviewState::Stopping => "stopping",
            PreviewState::Stopped => "stopped",
            PreviewState::Suspended => "suspended",
            PreviewState::Deleting => "deleting",
            PreviewState::Deleted => "deleted",
            PreviewState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<PreviewState> {
        PreviewState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

impl std::fmt::Display for PreviewState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
}

/// One provisioning step as the preview resource shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewStep {
    pub name: String,
    pub status: StepStatus,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The platform's one-line account of what the step did, or why it failed.
    #[serde(default)]
    pub log: Option<String>,
}

/// The preview resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewResponse {
    pub app_id: AppId,
    pub state: PreviewState,
    /// Where a browser sees the preview; absent once it is deleted.
    pub url: Option<String>,
    pub steps: Vec<PreviewStep>,
    pub last_activity_at: String,
    /// The app's current files revision (absent in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_revision: Option<u64>,
    /// The revision the preview's daemon last reported applying.
    #[serde(default)]
    pub applied_revision: Option<u64>,
    #[serde(default)]
    pub dev_server: Option<DevServerState>,
    /// What runs the app in the preview, as its daemon last reported it.
    #[serde(default)]
    pub runtime: Option<crate::RuntimeReport>,
    /// What the preview shows for `render.revision` (see [`crate::render`]).
    #[serde(default)]
    pub render: Option<crate::render::RenderReport>,
    #[serde(default)]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl PreviewResponse {
    /// The step names in order.
    pub fn step_names(&self) -> Vec<&str> {
        self.steps.iter().map(|step| step.name.as_str()).collect()
    }

    /// The step called `name`, if the preview has one.
    pub fn step(&self, name: &str) -> Option<&PreviewStep> {
        self.steps.iter().find(|step| step.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_through_text_and_json() {
        for state in PreviewState::ALL {
            assert_eq!(PreviewState::parse(state.as_str()), Some(state));
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(PreviewState::parse("sleeping"), None);
    }

    #[test]
    fn a_preview_as_the_provisioner_sends_it_reads_typed() {
        let body = serde_json::json!({
            "app_id": "shop",
            "state": "running",
            "url": "https://preview-shop.fly.dev",
            "steps": [{"name": "create_app", "status": "done",
                       "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:01Z",
                       "duration_ms": 1000, "log": "created"}],
            "last_activity_at": "2026-01-01T00:00:00Z",
            "files_revision": 3,
            "applied_revision": null,
            "dev_server": "ready",
            "error": null,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:01Z"
        });
        let preview: PreviewResponse = serde_json::from_value(body).unwrap();
        assert_eq!(preview.state, PreviewState::Running);
        assert_eq!(preview.step_names(), ["create_app"]);
        assert_eq!(preview.step("create_app").unwrap().status, StepStatus::Done);
        assert_eq!(preview.files_revision, Some(3));
        assert_eq!(preview.dev_server, Some(DevServerState::Ready));
    }
}
