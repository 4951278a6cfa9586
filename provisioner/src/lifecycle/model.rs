//! What the lifecycle remembers about a preview: its state, the provisioning
//! steps with their logs, the driver's facts and the last activity. Stored
//! whole by a [`crate::store::previews::PreviewStore`] and sent as is in
//! events.

use serde::{Deserialize, Serialize};
use sync_protocol::AppId;
use time::OffsetDateTime;

use crate::lifecycle::driver::{DriverData, MachineState};

/// A preview's state, the type clients read too. Transient states
/// (`provisioning`, `waking`, `stopping`, `deleting`) are written before the
/// driver call they name, so a crash leaves a record the reconciler knows how
/// to finish.
pub use sync_protocol::PreviewState;

/// Whether the platform should hold something for a preview in this state.
pub fn exists_on_platform(state: PreviewState) -> bool {
    !matches!(state, PreviewState::Deleted)
}

/// The record state that matches a machine state the platform reports,
/// for a preview that has finished provisioning.
pub fn state_from_machine(machine: MachineState) -> Option<PreviewState> {
    match machine {
        MachineState::Started => Some(PreviewState::Running),
        MachineState::Stopped | MachineState::Created => Some(PreviewState::Stopped),
        MachineState::Suspended => Some(PreviewState::Suspended),
        MachineState::Absent
        | MachineState::Starting
        | MachineState::Stopping
        | MachineState::Suspending
        | MachineState::Destroying
        | MachineState::Destroyed
        | MachineState::Failed
        | MachineState::Unreachable => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Done,
    Failed,
}

/// One provisioning step as recorded before and after it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = PreviewStep)]
pub struct StepRecord {
    pub name: String,
    pub status: StepStatus,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The driver's one-line account of what the step did, or why it failed.
    #[serde(default)]
    pub log: Option<String>,
}

impl StepRecord {
    pub fn pending(name: &str) -> StepRecord {
        StepRecord {
            name: name.to_owned(),
            status: StepStatus::Pending,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            log: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRecord {
    pub app_id: AppId,
    pub state: PreviewState,
    /// Whatever the driver must remember between calls (a machine id, a pid).
    pub driver_data: DriverData,
    pub steps: Vec<StepRecord>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity_at: OffsetDateTime,
    pub error: Option<String>,
    /// When `state` last changed: how the reconciler tells a stuck preview.
    #[serde(with = "time::serde::rfc3339")]
    pub state_changed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl PreviewRecord {
    /// A fresh record about to be provisioned with `steps`.
    pub fn new(app_id: AppId, steps: &[impl AsRef<str>], now: OffsetDateTime) -> PreviewRecord {
        PreviewRecord {
            app_id,
            state: PreviewState::Provisioning,
            driver_data: DriverData::new(),
            steps: steps
                .iter()
                .map(|step| StepRecord::pending(step.as_ref()))
                .collect(),
            last_activity_at: now,
            error: None,
            state_changed_at: now,
            created_at: now,
            updated_at: now,
        }
    }

    /// Moves to `state`, keeping `state_changed_at` when the state is unchanged.
    pub fn set_state(&mut self, state: PreviewState, now: OffsetDateTime) {
        if self.state != state {
            self.state = state;
            self.state_changed_at = now;
        }
        self.updated_at = now;
    }

    /// Starts provisioning over: every step pending again, driver data kept
    /// so that idempotent steps find what they already made.
    pub fn restart_provisioning(&mut self, steps: &[impl AsRef<str>], now: OffsetDateTime) {
        self.steps = steps
            .iter()
            .map(|step| StepRecord::pending(step.as_ref()))
            .collect();
        self.error = None;
        self.set_state(PreviewState::Provisioning, now);
    }
}

/// What changed, sent to every subscriber (the SSE endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    State,
    Step,
}

#[derive(Clone, Debug)]
pub struct PreviewEvent {
    pub kind: EventKind,
    pub record: PreviewRecord,
}
