//! The driver seam: where a preview physically runs.
//!
//! The lifecycle service (provision, wake, idle stop, delete, reconcile) is
//! written once against [`PreviewDriver`], an object-safe trait the service
//! holds as `Arc<dyn PreviewDriver>`. A platform does not implement it by
//! hand: it implements [`PlatformDriver`] with its own step enum and its own
//! data struct, and [`typed`](super::driver_typed) turns that into a
//! `PreviewDriver`, so no driver matches step names or reads string keys.
//!
//! Whatever a driver must remember between calls (a Fly machine id, a local
//! port) lives in its data struct; the service persists it with the preview
//! as [`DriverData`], a map of strings (the stored form every earlier version
//! wrote).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sync_protocol::{AppId, SyncToken};

pub use crate::lifecycle::driver_data::{DriverData, as_text};

/// A provisioning step as the lifecycle records it: a driver's step enum
/// value, named. Only [`Steps`] makes one, so a `Step` always names a real
/// step of some driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Step(&'static str);

impl Step {
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl AsRef<str> for Step {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A driver's steps as an enum: every value, in order, and each one's name.
pub trait Steps: Copy + Eq + Send + Sync + std::fmt::Debug + 'static {
    /// Every step, in the order provisioning runs them.
    const ALL: &'static [Self];
    /// The name recorded in the store (keep it stable: records outlive releases).
    fn name(self) -> &'static str;

    fn step(self) -> Step {
        Step(self.name())
    }
}

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
    /// The platform cannot reach the machine's host for now (Fly's
    /// `host_status` `unknown` or `unreachable`), so its state is not known:
    /// transient, replaced only once it lasts `stuck_after`.
    Unreachable,
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

/// The cause a driver error keeps, for logs that print the whole chain.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Worth retrying later: rate limits, 5xx, timeouts, capacity.
    #[error("transient: {0}")]
    Transient(#[source] Cause),
    /// The platform refused for a reason a retry will not fix.
    #[error("{0}")]
    Permanent(#[source] Cause),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl DriverError {
    pub fn transient(cause: impl Into<Cause>) -> DriverError {
        DriverError::Transient(cause.into())
    }

    pub fn permanent(cause: impl Into<Cause>) -> DriverError {
        DriverError::Permanent(cause.into())
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, DriverError::Transient(_))
    }
}

/// The seam the lifecycle holds. Implemented for every [`PlatformDriver`]
/// by `driver_typed`; see there for how names and data are translated.
#[async_trait]
pub trait PreviewDriver: Send + Sync + 'static {
    /// The provisioning steps in order, e.g. create app, IPs, secrets, machine, wait started.
    fn steps(&self) -> Vec<Step>;

    /// Runs one step. Idempotent: after a crash the same step runs again and
    /// finds its work already done. Returns a one-line log of what it did.
    async fn run_step(
        &self,
        step: Step,
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

    /// Throws away a machine that is gone or wedged; provisioning resumes at
    /// the returned step, which is one of [`PreviewDriver::steps`].
    async fn discard_machine(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
    ) -> Result<Step, DriverError>;

    /// The URL a browser opens to see the preview, from its stored facts
    /// (the platform name it was made with).
    fn url(&self, app_id: &AppId, data: &DriverData) -> String;

    /// Every preview the platform holds that carries our marks.
    async fn list(&self) -> Result<Vec<PlatformPreview>, DriverError>;

    /// The loopback port a running preview answers on, for a platform whose
    /// previews run on this machine behind the edge proxy; `None` elsewhere.
    fn loopback_port(&self, app_id: &AppId) -> Option<u16>;

    /// Called once when the provisioner shuts down (the local driver stops its processes).
    async fn shutdown(&self);
}

/// What a platform implements: [`PreviewDriver`] with its own step enum and
/// data struct. The defaults suit a platform without a cheaper way to
/// replace a machine, and without previews on loopback.
#[async_trait]
pub trait PlatformDriver: Send + Sync + 'static {
    type Step: Steps;
    /// What the driver remembers between calls; every field a string or
    /// skipped when empty (see [`DriverData::encode`]).
    type Data: Serialize + serde::de::DeserializeOwned + Default + Send + Sync;

    async fn run_step(
        &self,
        step: Self::Step,
        spec: &PreviewSpec,
        data: &mut Self::Data,
    ) -> Result<String, DriverError>;

    async fn state(&self, app_id: &AppId, data: &Self::Data) -> Result<MachineState, DriverError>;

    async fn start(&self, app_id: &AppId, data: &mut Self::Data) -> Result<(), DriverError>;

    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut Self::Data,
        mode: StopMode,
    ) -> Result<(), DriverError>;

    async fn destroy(&self, app_id: &AppId, data: &Self::Data) -> Result<(), DriverError>;

    /// The default destroys everything and starts over from the first step;
    /// a driver that can replace just its machine overrides this.
    async fn discard_machine(
        &self,
        app_id: &AppId,
        data: &mut Self::Data,
    ) -> Result<Self::Step, DriverError> {
        self.destroy(app_id, data).await?;
        *data = Self::Data::default();
        Ok(Self::Step::ALL[0])
    }

    fn url(&self, app_id: &AppId, data: &Self::Data) -> String;

    async fn list(&self) -> Result<Vec<(AppId, MachineState, Self::Data)>, DriverError>;

    fn loopback_port(&self, _app_id: &AppId) -> Option<u16> {
        None
    }

    async fn shutdown(&self) {}
}
