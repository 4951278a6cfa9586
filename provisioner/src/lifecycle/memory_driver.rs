//! A driver whose platform is a map in memory: for unit tests of the service
//! and loops, and for benchmarks that measure the provisioner alone. It counts
//! every call and can be told to fail the next calls of an operation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sync_protocol::AppId;

use crate::lifecycle::driver::{
    DriverError, MachineState, PlatformDriver, PreviewSpec, Steps, StopMode,
};

/// The provisioning steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryStep {
    CreateApp,
    SetSecrets,
    CreateMachine,
    WaitStarted,
}

impl Steps for MemoryStep {
    const ALL: &'static [MemoryStep] = &[
        MemoryStep::CreateApp,
        MemoryStep::SetSecrets,
        MemoryStep::CreateMachine,
        MemoryStep::WaitStarted,
    ];

    fn name(self) -> &'static str {
        match self {
            MemoryStep::CreateApp => "create_app",
            MemoryStep::SetSecrets => "set_secrets",
            MemoryStep::CreateMachine => "create_machine",
            MemoryStep::WaitStarted => "wait_started",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_digest: Option<String>,
}

#[derive(Default)]
pub struct MemoryDriver {
    /// App id → machine state; an app without a machine is `Absent`.
    platform: Mutex<BTreeMap<AppId, MachineState>>,
    /// Operation name (`start`, `stop`, `destroy`, a step name) → calls made.
    calls: Mutex<HashMap<String, usize>>,
    /// Operation name → how many of its next calls fail transiently.
    failures: Mutex<HashMap<String, usize>>,
    /// How long `start` takes, to let concurrent wakes pile up.
    start_delay: Duration,
    /// Machine ids handed out, so a replaced machine has a new id.
    next_machine: Mutex<u64>,
    /// Apps `list` leaves out, as a lagging platform list does.
    unlisted: Mutex<std::collections::BTreeSet<AppId>>,
}

impl MemoryDriver {
    pub fn new() -> MemoryDriver {
        MemoryDriver::default()
    }

    pub fn with_start_delay(start_delay: Duration) -> MemoryDriver {
        MemoryDriver {
            start_delay,
            ..MemoryDriver::default()
        }
    }

    pub fn calls(&self, operation: &str) -> usize {
        lock(&self.calls).get(operation).copied().unwrap_or(0)
    }

    pub fn machine(&self, app_id: &AppId) -> Option<MachineState> {
        lock(&self.platform).get(app_id).copied()
    }

    pub fn apps(&self) -> Vec<AppId> {
        lock(&self.platform).keys().cloned().collect()
    }

    /// Changes a machine behind the lifecycle's back (Fly's autostop, a crash).
    pub fn set_machine(&self, app_id: &AppId, state: MachineState) {
        lock(&self.platform).insert(app_id.clone(), state);
    }

    /// Leaves `app_id` out of (or back in) `list` answers while `state` still sees it.
    pub fn set_listed(&self, app_id: &AppId, listed: bool) {
        let mut unlisted = lock(&self.unlisted);
        if listed {
            unlisted.remove(app_id);
        } else {
            unlisted.insert(app_id.clone());
        }
    }

    /// Makes the next `count` calls of `operation` fail with a transient error.
    pub fn fail_next(&self, operation: &str, count: usize) {
        lock(&self.failures).insert(operation.to_owned(), count);
    }

    fn call(&self, operation: &str) -> Result<(), DriverError> {
        *lock(&self.calls).entry(operation.to_owned()).or_default() += 1;
        let mut failures = lock(&self.failures);
        match failures.get_mut(operation) {
            Some(remaining) if *remaining > 0 => {
                *remaining -= 1;
                Err(DriverError::transient(format!(
                    "injected failure of {operation}"
                )))
            }
            _ => Ok(()),
        }
    }

    fn require_app(&self, app_id: &AppId) -> Result<(), DriverError> {
        if lock(&self.platform).contains_key(app_id) {
            Ok(())
        } else {
            Err(DriverError::permanent(format!(
                "app {} does not exist",
                app_id.preview_name()
            )))
        }
    }
}

#[async_trait]
impl PlatformDriver for MemoryDriver {
    type Step = MemoryStep;
    type Data = MemoryData;

    async fn run_step(
        &self,
        step: MemoryStep,
        spec: &PreviewSpec,
        data: &mut MemoryData,
    ) -> Result<String, DriverError> {
        self.call(step.name())?;
        let app_id = &spec.app_id;
        match step {
            MemoryStep::CreateApp => {
                lock(&self.platform)
                    .entry(app_id.clone())
                    .or_insert(MachineState::Absent);
                Ok(format!("app {} exists", app_id.preview_name()))
            }
            MemoryStep::SetSecrets => {
                self.require_app(app_id)?;
                data.token_digest = Some(spec.sync_token.digest());
                Ok("secrets set".to_owned())
            }
            MemoryStep::CreateMachine => {
                self.require_app(app_id)?;
                let mut platform = lock(&self.platform);
                let machine = platform
                    .entry(app_id.clone())
                    .or_insert(MachineState::Absent);
                if *machine == MachineState::Absent || data.machine_id.is_none() {
                    let mut next = lock(&self.next_machine);
                    *next += 1;
                    data.machine_id = Some(format!("m{next}"));
                    *machine = MachineState::Starting;
                }
                let machine_id = data.machine_id.as_deref().unwrap_or_default();
                Ok(format!("machine {machine_id} created"))
            }
            MemoryStep::WaitStarted => {
                self.require_app(app_id)?;
                lock(&self.platform).insert(app_id.clone(), MachineState::Started);
                Ok("machine started".to_owned())
            }
        }
    }

    async fn state(&self, app_id: &AppId, _data: &MemoryData) -> Result<MachineState, DriverError> {
        Ok(self.machine(app_id).unwrap_or(MachineState::Absent))
    }

    async fn start(&self, app_id: &AppId, _data: &mut MemoryData) -> Result<(), DriverError> {
        self.call("start")?;
        if !self.start_delay.is_zero() {
            tokio::time::sleep(self.start_delay).await;
        }
        self.require_app(app_id)?;
        lock(&self.platform).insert(app_id.clone(), MachineState::Started);
        Ok(())
    }

    async fn stop(
        &self,
        app_id: &AppId,
        _data: &mut MemoryData,
        mode: StopMode,
    ) -> Result<(), DriverError> {
        self.call("stop")?;
        self.require_app(app_id)?;
        let asleep = match mode {
            StopMode::Stop => MachineState::Stopped,
            StopMode::Suspend => MachineState::Suspended,
        };
        lock(&self.platform).insert(app_id.clone(), asleep);
        Ok(())
    }

    async fn destroy(&self, app_id: &AppId, _data: &MemoryData) -> Result<(), DriverError> {
        self.call("destroy")?;
        lock(&self.platform).remove(app_id);
        Ok(())
    }

    fn url(&self, app_id: &AppId, _data: &MemoryData) -> String {
        format!("http://{}.memory.invalid/", app_id.preview_name())
    }

    async fn list(&self) -> Result<Vec<(AppId, MachineState, MemoryData)>, DriverError> {
        self.call("list")?;
        let unlisted = lock(&self.unlisted);
        Ok(lock(&self.platform)
            .iter()
            .filter(|(app_id, _)| !unlisted.contains(*app_id))
            .map(|(app_id, state)| (app_id.clone(), *state, MemoryData::default()))
            .collect())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use sync_protocol::SyncToken;

    use super::*;

    #[tokio::test]
    async fn the_memory_driver_keeps_the_driver_contract() {
        let app_id = AppId::parse("contract").unwrap();
        let spec = PreviewSpec {
            sync_token: SyncToken::new(app_id.clone(), [9; 32]),
            app_id,
            server_url: "http://provisioner.test".to_owned(),
        };
        crate::lifecycle::conformance::check_driver(&MemoryDriver::new(), &spec).await;
    }
}
