//! The driver seam: where a preview physically runs.
//!
//! The lifecycle service (provision, wake, idle stop, delete, reconcile) is
//! written once against [`PreviewDriver`]. The Fly driver turns each call into
//! Machines API requests; the local driver runs a sync-daemon process per
//! preview on this machine. Neither knows about HTTP handlers or the store:
//! whatever a driver must remember between calls (a Fly machine id, a local
//! pid and port) it returns in [`DriverData`], and the lifecycle service
//! persists it with the preview.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sync_protocol::{AppId, SyncToken};

/// Driver-specific facts kept with the preview in the store.
pub type DriverData = BTreeMap<String, String>;

/// What a preview needs to know to start syncing: given to every provisioning step.
#[derive(Clone, Debug)]
pub struct PreviewSpec {
    pub app_id: AppId,
    /// Reaches the machine as a secret (Fly) or a private file (local), never in plain config or logs.
    pub sync_token: SyncToken,
    /// URL at which the preview's daemon reaches this provisioner.
    pub server_url: String,
}

/// The state of a preview's machine, with Fly's transient states folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineState {
    /// No machine exists (not yet created, or gone).
    Absent,
    Created,
    Starting,
    Started,
    Stopping,
    Stopped,
    Suspending,
    Suspended,
    Destroying,
    Destroyed,
    Failed,
}

/// How an idle preview is put to sleep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopMode {
    Stop,
    Suspend,
}

/// A preview as the platform (not the store) knows it: what the reconciler compares.
#[derive(Clone, Debug)]
pub struct PlatformPreview {
    pub app_id: AppId,
    pub state: MachineState,
    pub data: DriverData,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Worth retrying later: rate limits, 5xx, timeouts, capacity.
    #[error("transient: {0}")]
    Transient(String),
    /// The platform refused for a reason a retry will not fix.
    #[error("{0}")]
    Permanent(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

#[async_trait]
pub trait PreviewDriver: Send + Sync + 'static {
    /// The provisioning steps in order, e.g. create app, IPs, secrets, machine, wait started.
    fn steps(&self) -> &'static [&'static str];

    /// Runs one step. Idempotent: after a crash the same step runs again and
    /// finds its work already done. Returns a one-line log of what it did.
    async fn run_step(
        &self,
        step: &str,
        spec: &PreviewSpec,
        data: &mut DriverData,
    ) -> Result<String, DriverError>;

    /// The machine's current state.
    async fn state(&self, app_id: &AppId, data: &DriverData) -> Result<MachineState, DriverError>;

    /// Starts or resumes the machine and returns once it is started.
    async fn start(&self, app_id: &AppId, data: &mut DriverData) -> Result<(), DriverError>;

    /// Stops or suspends the machine.
    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
        mode: StopMode,
    ) -> Result<(), DriverError>;

    /// Destroys everything the preview holds on the platform. Idempotent.
    async fn destroy(&self, app_id: &AppId, data: &DriverData) -> Result<(), DriverError>;

    /// Throws away a machine that is gone or wedged so that re-running the
    /// steps from the returned one makes a new machine. The reconciler calls
    /// it, then runs the steps from that name on. The default destroys
    /// everything and starts over from the first step; a driver that can
    /// replace just its machine overrides this (delete the machine, forget
    /// its id, return the step that creates it).
    async fn discard_machine(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
    ) -> Result<&'static str, DriverError> {
        self.destroy(app_id, data).await?;
        data.clear();
        Ok(self.steps().first().copied().unwrap_or_default())
    }

    /// The URL a browser opens to see the preview.
    fn url(&self, app_id: &AppId) -> String;

    /// Every preview the platform holds that carries our marks.
    async fn list(&self) -> Result<Vec<PlatformPreview>, DriverError>;

    /// Called once when the provisioner shuts down (the local driver stops its processes).
    async fn shutdown(&self) {}
}
