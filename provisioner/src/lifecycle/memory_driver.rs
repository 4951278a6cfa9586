//! A driver whose platform is a map in memory: for unit tests of the service
//! and loops, and for benchmarks that measure the provisioner alone. It counts
//! every call and can be told to fail the next calls of an operation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sync_protocol::AppId;

use crate::lifecycle::driver::{
    DriverData, DriverError, MachineState, PlatformPreview, PreviewDriver, PreviewSpec, StopMode,
};

pub const STEPS: &[&str] = &[
    "create_app",
    "set_secrets",
    "create_machine",
    "wait_started",
];

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
                Err(DriverError::Transient(format!(
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
            Err(DriverError::Permanent(format!(
                "app {} does not exist",
                app_id.preview_name()
            )))
        }
    }
}

#[async_trait]
impl PreviewDriver for MemoryDriver {
    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    async fn run_step(
        &self,
        step: &str,
        spec: &PreviewSpec,
        data: &mut DriverData,
    ) -> Result<String, DriverError> {
        self.call(step)?;
        let app_id = &spec.app_id;
        match step {
            "create_app" => {
                lock(&self.platform)
                    .entry(app_id.clone())
                    .or_insert(MachineState::Absent);
                Ok(format!("app {} exists", app_id.preview_name()))
            }
            "set_secrets" => {
                self.require_app(app_id)?;
                data.insert("token_digest".to_owned(), spec.sync_token.digest());
                Ok("secrets set".to_owned())
            }
            "create_machine" => {
                self.require_app(app_id)?;
                let mut platform = lock(&self.platform);
                let machine = platform
                    .entry(app_id.clone())
                    .or_insert(MachineState::Absent);
                if *machine == MachineState::Absent || !data.contains_key("machine_id") {
                    let mut next = lock(&self.next_machine);
                    *next += 1;
                    data.insert("machine_id".to_owned(), format!("m{next}"));
                    *machine = MachineState::Starting;
                }
                Ok(format!("machine {} created", data["machine_id"]))
            }
            "wait_started" => {
                self.require_app(app_id)?;
                lock(&self.platform).insert(app_id.clone(), MachineState::Started);
                Ok("machine started".to_owned())
            }
            other => Err(DriverError::Permanent(format!("unknown step {other}"))),
        }
    }

    async fn state(&self, app_id: &AppId, _data: &DriverData) -> Result<MachineState, DriverError> {
        Ok(self.machine(app_id).unwrap_or(MachineState::Absent))
    }

    async fn start(&self, app_id: &AppId, _data: &mut DriverData) -> Result<(), DriverError> {
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
        _data: &mut DriverData,
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

    async fn destroy(&self, app_id: &AppId, _data: &DriverData) -> Result<(), DriverError> {
        self.call("destroy")?;
        lock(&self.platform).remove(app_id);
        Ok(())
    }

    fn url(&self, app_id: &AppId) -> String {
        format!("http://{}.memory.invalid/", app_id.preview_name())
    }

    async fn list(&self) -> Result<Vec<PlatformPreview>, DriverError> {
        self.call("list")?;
        Ok(lock(&self.platform)
            .iter()
            .map(|(app_id, state)| PlatformPreview {
                app_id: app_id.clone(),
                state: *state,
                data: DriverData::new(),
            })
            .collect())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
