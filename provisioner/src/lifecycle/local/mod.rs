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

mod daemon;
pub mod process_tree;
mod shared;
#[cfg(test)]
mod tests;
mod work_dir;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sync_protocol::AppId;

use crate::config::ServeArgs;
use crate::lifecycle::driver::{
    DriverData, DriverError, MachineState, PlatformPreview, PreviewDriver, PreviewSpec, StopMode,
};
pub use daemon::default_daemon_bin;
use daemon::{DaemonProcess, free_port};
use shared::Shared;
use work_dir::{Launch, WorkDir, list_app_ids};

const STEPS: &[&str] = &["create_work_dir", "write_token", "start_daemon"];

/// How the local driver runs previews.
#[derive(Clone, Debug)]
pub struct LocalDriverConfig {
    /// `<data-dir>/previews`: one work dir per app below it.
    pub previews_root: PathBuf,
    pub sync_daemon_bin: PathBuf,
    /// The dev server command each daemon supervises (`--exec`; `auto` detects it).
    pub exec: String,
    /// The daemon's `--install` command; detected from the lockfile when unset.
    pub install: Option<String>,
    /// The provisioner's port, which serves `preview-<appId>.localhost`.
    pub proxy_port: u16,
    /// Where daemons reach this provisioner now. Overrides the URL a preview
    /// was provisioned with, which a restart on another port makes stale.
    pub server_url: Option<String>,
    /// How long a daemon gets to stop its dev server before its tree is killed.
    pub stop_grace: Duration,
}

impl LocalDriverConfig {
    /// The configuration `serve` runs with; `proxy_port` is the port it bound.
    pub fn from_args(args: &ServeArgs, proxy_port: u16) -> anyhow::Result<LocalDriverConfig> {
        // The daemons run in their work dirs, so every path they get is absolute.
        let previews_root = std::path::absolute(args.data_dir.join("previews"))
            .context("failed to resolve the data dir")?;
        let sync_daemon_bin = match &args.sync_daemon_bin {
            Some(path) => {
                std::path::absolute(path).context("failed to resolve --sync-daemon-bin")?
            }
            None => default_daemon_bin(),
        };
        Ok(LocalDriverConfig {
            previews_root,
            sync_daemon_bin,
            exec: args.local_exec.clone(),
            install: args.local_install.clone(),
            proxy_port,
            server_url: Some(args.public_url.clone().unwrap_or_else(|| {
                let host = match args.listen.ip() {
                    ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
                    ip if ip.is_ipv6() => format!("[{ip}]"),
                    ip => ip.to_string(),
                };
                format!("http://{host}:{proxy_port}")
            })),
            stop_grace: Duration::from_secs(5),
        })
    }
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
impl PreviewDriver for LocalDriver {
    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    #[tracing::instrument(skip_all, fields(app_id = %spec.app_id, step))]
    async fn run_step(
        &self,
        step: &str,
        spec: &PreviewSpec,
        data: &mut DriverData,
    ) -> Result<String, DriverError> {
        let work_dir = self.work_dir(&spec.app_id);
        match step {
            "create_work_dir" => {
                work_dir.create()?;
                let port = match work_dir.read_launch() {
                    Ok(launch) => launch.port,
                    Err(_) => free_port(&self.shared.taken_ports())?,
                };
                work_dir.write_launch(&Launch {
                    port,
                    server_url: spec.server_url.clone(),
                })?;
                data.insert("port".to_owned(), port.to_string());
                data.insert("work_dir".to_owned(), work_dir.root().display().to_string());
                Ok(format!(
                    "work dir {} ready, gateway port {port}",
                    work_dir.root().display()
                ))
            }
            "write_token" => {
                work_dir.write_token(&spec.sync_token.expose())?;
                Ok("sync token written to the work dir (owner-only)".to_owned())
            }
            "start_daemon" => {
                let port = self.launch(&spec.app_id)?;
                data.insert("port".to_owned(), port.to_string());
                data.remove("asleep");
                Ok(format!(
                    "sync-daemon started; its gateway on 127.0.0.1:{port}"
                ))
            }
            other => Err(DriverError::Permanent(format!("unknown step {other}"))),
        }
    }

    async fn state(&self, app_id: &AppId, data: &DriverData) -> Result<MachineState, DriverError> {
        Ok(self.machine_state(app_id, data))
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn start(&self, app_id: &AppId, data: &mut DriverData) -> Result<(), DriverError> {
        let port = self.launch(app_id)?;
        data.insert("port".to_owned(), port.to_string());
        data.remove("asleep");
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
        mode: StopMode,
    ) -> Result<(), DriverError> {
        self.shared.halt(app_id).await;
        // A process cannot be suspended here; remembering the mode keeps the
        // reported state equal to the one the lifecycle recorded.
        let asleep = match mode {
            StopMode::Stop => "stopped",
            StopMode::Suspend => "suspended",
        };
        data.insert("asleep".to_owned(), asleep.to_owned());
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn destroy(&self, app_id: &AppId, _data: &DriverData) -> Result<(), DriverError> {
        self.shared.halt(app_id).await;
        self.work_dir(app_id).remove()?;
        Ok(())
    }

    fn url(&self, app_id: &AppId) -> String {
        format!(
            "http://{}.localhost:{}/",
            app_id.preview_name(),
            self.shared.config.proxy_port
        )
    }

    async fn list(&self) -> Result<Vec<PlatformPreview>, DriverError> {
        Ok(list_app_ids(&self.shared.config.previews_root)
            .into_iter()
            .map(|app_id| {
                let mut data = DriverData::new();
                if let Ok(launch) = self.work_dir(&app_id).read_launch() {
                    data.insert("port".to_owned(), launch.port.to_string());
                }
                let state = self.machine_state(&app_id, &data);
                PlatformPreview {
                    app_id,
                    state,
                    data,
                }
            })
            .collect())
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
    fn machine_state(&self, app_id: &AppId, data: &DriverData) -> MachineState {
        let work_dir = self.work_dir(app_id);
        if !work_dir.exists() {
            return MachineState::Absent;
        }
        if self.running_port(app_id).is_some() {
            return MachineState::Started;
        }
        match data.get("asleep").map(String::as_str) {
            Some("suspended") => MachineState::Suspended,
            Some(_) => MachineState::Stopped,
            None if work_dir.read_launch().is_err() => MachineState::Created,
            None => MachineState::Stopped,
        }
    }
}
