//! What an app's last import did and found: the answer of `POST .../import`,
//! the record the store keeps (`ImportStore`, migration 0012), and the
//! preview resource's `source`. It holds the repository URL as given (a URL
//! with credentials is refused at validation, and the token is never part
//! of it), the ref and commit, what was detected, and each step with its
//! status, timing and log line, saved as each step starts and ends so that
//! the preview's event stream can show them as they happen.

use serde::{Deserialize, Serialize};

use super::Project;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStepStatus {
    Running,
    Done,
    Failed,
}

/// One step of an import (validate, fetch, detect, save, boot).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportStep {
    pub name: String,
    pub status: ImportStepStatus,
    /// How long it ran (0 while running).
    pub duration_ms: u64,
    pub log: String,
}

/// What an import did and found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub repository: String,
    #[serde(rename = "ref")]
    pub reference: String,
    /// The app's directory inside the repository, when not its root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdir: Option<String>,
    pub commit: Option<String>,
    pub project: Option<Project>,
    /// The files revision the import left the app at.
    pub revision: Option<u64>,
    /// Files added, changed or deleted by the import (0 on a re-import of the same commit).
    pub changed: u64,
    pub steps: Vec<ImportStep>,
}

impl ImportReport {
    /// The step that failed, if one did.
    pub fn failed_step(&self) -> Option<&ImportStep> {
        self.steps
            .iter()
            .find(|step| step.status == ImportStepStatus::Failed)
    }
}
