//! The local driver: a preview "machine" is a `sync-daemon --exec <dev
//! server>` process on this machine, in its own work dir under
//! `<data-dir>/previews/<appId>/`, with its gateway on a free loopback
//! port that the edge proxy forwards `preview-<appId>.localhost` to.
//!
//! Started means the daemon process runs; stopped means it does not and its
//! work dir (files, `node_modules/`) stays, so a wake is a process start, not
//! a reinstall. Every process is a child of the provisioner: `shutdown` stops
//! them all, and a provisioner that crashed leaves pid files from which the
//! next start finds the strays, kills their trees and relaunches them as its
//! own children, so nothing outlives the provisioner that owns it.

mod config;
mod daemon;
pub mod process_tree;
mod shared;
#[cfg(test)]
mod tests;
mod work_dir;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sync_protocol::AppId;

use crate::lifecycle::driver::{
    DriverError, MachineState, PlatformDriver, PreviewSpec, Steps, StopMode, as_text,
};
pub use config::LocalDriverConfig;
pub use daemon::default_daemon_bin;
use daemon::{DaemonProcess, free_port};
use shared::Shared;
use work_dir::{Launch, WorkDir, list_app_ids};

/// The provisioning steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalStep {
    CreateWorkDir,
    WriteToken,
    StartDaemon,
}

impl Steps for LocalStep {
    const ALL: &'static [LocalStep] = &[
        LocalStep::CreateWorkDir,
        LocalStep::WriteToken,
        LocalStep::StartDaemon,
    ];

    fn name(self) -> &'static str {
        match self {
            LocalStep::CreateWorkDir => "create_work_dir",
            LocalStep::WriteToken => "write_token",
            LocalStep::StartDaemon => "start_daemon",
        }
    }
}

/// How a preview was put to sleep: a process cannot be suspended here, so
/// the driver remembers the mode to report the state the lifecycle recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Asleep {
    Stopped,
    Suspended,
}

/// What the driver remembers about a preview (stored as strings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalData {
    /// The dev server's loopback port.
    #[serde(default, with = "as_text", skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asleep: Option<Asleep>,
}

pub struct LocalDriver {
    shared: Arc<Shared>,
}

impl LocalDriver {
    /// Opens the previews root and deals with what an earlier run left:
    /// a daemon still running from a provisioner that died is killed (its
    /// whole tree) and started again as this provisioner's child.
    pub async fn open(config: LocalDriverConfig) -> anyhow::Result<LocalDriver> {
        std::fs::create_dir_all(&config.previews_root)?;
        let driver = LocalDriver {
            shared: Arc::new(Shared::new(config)),
        };
        for app_id in list_app_ids(&driver.shared.config.previews_root) {
            let work_dir = driver.work_dir(&app_id);
            let Some(record) = work_dir.read_pid() else {
                continue;
            };
            work_dir.remove_pid();
            if !process_tree::is_same_process(record.pid, record.start_time) {
                continue;
            }
            tracing::info!(app_id = %app_id, pid = record.pid, "replacing a preview daemon left by an earlier run");
            process_tree::kill_foreign_tree(record.pid, driver.shared.config.stop_grace).await;
            if let Err(error) = Shared::launch(&driver.shared, &app_id) {
                tracing::warn!(app_id = %app_id, error.cause_chain = ?error, "relaunching a preview failed");
            }
        }
        Ok(driver)
    }

    /// The gateway port of a preview whose daemon runs; `None` otherwise.
    pub fn running_port(&self, app_id: &AppId) -> Option<u16> {
        self.shared.running(app_id).map(|process| process.port)
    }

    /// The daemon's pid, for tests and diagnostics.
    pub fn daemon_pid(&self, app_id: &AppId) -> Option<i32> {
        self.shared.running(app_id).map(|process| process.pid)
    }

    fn work_dir(&self, app_id: &AppId) -> WorkDir {
        self.shared.work_dir(app_id)
    }

    fn launch(&self, app_id: &AppId) -> Result<u16, DriverError> {
        Shared::launch(&self.shared, app_id)
    }
}

#[async_trait]
impl PlatformDriver for LocalDriver {
    type Step = LocalStep;
    type Data = LocalData;

    #[tracing::instrument(skip_all, fields(app_id = %spec.app_id, step = step.name()))]
    async fn run_step(
        &self,
        step: LocalStep,
        spec: &PreviewSpec,
        data: &mut LocalData,
    ) -> Result<String, DriverError> {
        let work_dir = self.work_dir(&spec.app_id);
        match step {
            LocalStep::CreateWorkDir => {
                work_dir.create()?;
                let port = match work_dir.read_launch() {
                    Ok(launch) => launch.port,
                    Err(_) => free_port(&self.shared.taken_ports())?,
                };
                work_dir.write_launch(&Launch {
                    port,
                    server_url: spec.server_url.clone(),
                })?;
                data.port = Some(port);
                data.work_dir = Some(work_dir.root().display().to_string());
                Ok(format!(
                    "work dir {} ready, gateway port {port}",
                    work_dir.root().display()
                ))
            }
            LocalStep::WriteToken => {
                work_dir.write_token(&spec.sync_token.expose())?;
                Ok("sync token written to the work dir (owner-only)".to_owned())
            }
            LocalStep::StartDaemon => {
                let port = self.launch(&spec.app_id)?;
                data.port = Some(port);
                data.asleep = None;
                Ok(format!(
                    "sync-daemon started; its gateway on 127.0.0.1:{port}"
                ))
            }
        }
    }

    async fn state(&self, app_id: &AppId, data: &LocalData) -> Result<MachineState, DriverError> {
        Ok(self.machine_state(app_id, data))
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn start(&self, app_id: &AppId, data: &mut LocalData) -> Result<(), DriverError> {
        data.port = Some(self.launch(app_id)?);
        data.asleep = None;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut LocalData,
        mode: StopMode,
    ) -> Result<(), DriverError> {
        self.shared.halt(app_id).await;
        data.asleep = Some(match mode {
            StopMode::Stop => Asleep::Stopped,
            StopMode::Suspend => Asleep::Suspended,
        });
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn destroy(&self, app_id: &AppId, _data: &LocalData) -> Result<(), DriverError> {
        self.shared.halt(app_id).await;
        self.work_dir(app_id).remove()?;
        Ok(())
    }

    fn url(&self, app_id: &AppId, _data: &LocalData) -> String {
        format!(
            "http://{}.localhost:{}/",
            app_id.preview_name(),
            self.shared.config.proxy_port
        )
    }

    async fn list(&self) -> Result<Vec<(AppId, MachineState, LocalData)>, DriverError> {
        Ok(list_app_ids(&self.shared.config.previews_root)
            .into_iter()
            .map(|app_id| {
                let data = LocalData {
                    port: self.work_dir(&app_id).read_launch().ok().map(|l| l.port),
                    ..LocalData::default()
                };
                let state = self.machine_state(&app_id, &data);
                (app_id, state, data)
            })
            .collect())
    }

    fn loopback_port(&self, app_id: &AppId) -> Option<u16> {
        self.running_port(app_id)
    }

    async fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        let processes: Vec<(AppId, DaemonProcess)> = self
            .shared
            .processes
            .lock()
            .expect("process table poisoned")
            .drain()
            .collect();
        let grace = self.shared.config.stop_grace;
        let stops = processes.iter().map(|(app_id, process)| async move {
            process.stop(grace).await;
            self.work_dir(app_id).remove_pid();
        });
        futures::future::join_all(stops).await;
        tracing::info!(count = processes.len(), "local previews stopped");
    }
}

impl LocalDriver {
    fn machine_state(&self, app_id: &AppId, data: &LocalData) -> MachineState {
        let work_dir = self.work_dir(app_id);
        if !work_dir.exists() {
            return MachineState::Absent;
        }
        if self.running_port(app_id).is_some() {
            return MachineState::Started;
        }
        match data.asleep {
            Some(Asleep::Suspended) => MachineState::Suspended,
            Some(Asleep::Stopped) => MachineState::Stopped,
            None if work_dir.read_launch().is_err() => MachineState::Created,
            None => MachineState::Stopped,
        }
    }
}
