//! One preview's running `sync-daemon --exec`: spawning it in its own
//! process group, noticing when it exits, and stopping its whole tree.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::Signal;
use sync_protocol::AppId;
use tokio::process::Command;
use tokio::sync::watch;

use super::LocalDriverConfig;
use super::config::{editor_origins, package_cache_env};
use super::process_tree::{self, groups_under, signal_groups};
use super::work_dir::{Launch, PidRecord, WorkDir};
use crate::local::sandbox::PreviewSandbox;

/// Environment variables never handed to a preview: the operator's secrets
/// and any daemon setting that would override the arguments given here.
const WITHHELD_ENV: &[&str] = &[
    "PROVISIONER_API_KEY",
    "FLY_API_TOKEN",
    "DATABASE_URL",
    "SYNC_SERVER_URL",
    "SYNC_APP_ID",
    "SYNC_TOKEN",
    "SYNC_DIR",
    "SYNC_STATE_DIR",
    "SYNC_EXEC",
    "SYNC_INSTALL",
    "SYNC_INTERVAL",
    // The template's Vite config binds HOST when set; the proxy reaches
    // previews on loopback only, so a shell's HOST must not move it.
    "HOST",
];

/// A daemon this provisioner started and reaps.
#[derive(Clone, Debug)]
pub struct DaemonProcess {
    pub pid: i32,
    pub port: u16,
    /// Turns true once the process has exited and been reaped.
    exited: watch::Receiver<bool>,
}

impl DaemonProcess {
    pub fn spawn(
        config: &LocalDriverConfig,
        app_id: &AppId,
        work_dir: &WorkDir,
        launch: &Launch,
        on_exit: impl FnOnce(i32) + Send + 'static,
    ) -> anyhow::Result<DaemonProcess> {
        let token = work_dir.read_token()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(work_dir.log_path())
            .with_context(|| format!("failed to open `{}`", work_dir.log_path().display()))?;
        let log_for_stderr = log.try_clone().context("failed to share the daemon log")?;

        let mut command = Command::new(&config.sync_daemon_bin);
        command
            .arg("--server")
            .arg(config.server_url.as_ref().unwrap_or(&launch.server_url))
            .arg("--app")
            .arg(app_id.as_str())
            .arg("--dir")
            .arg(work_dir.app_dir())
            .arg("--state-dir")
            .arg(work_dir.state_dir())
            .arg("--exec")
            .arg(&config.exec)
            .arg("--port")
            .arg(launch.port.to_string());
        if let Some(install) = &config.install {
            command.arg("--install").arg(install);
        }
        if config.sandbox == PreviewSandbox::Bubblewrap {
            command.arg("--sandbox");
        }
        for name in WITHHELD_ENV {
            command.env_remove(name);
        }
        command.envs(package_cache_env(&config.package_cache));
        command.env("npm_config_prefer_offline", "true");
        let configured = std::env::var("PREVIEW_EDITOR_ORIGINS").ok();
        command.env(
            "PREVIEW_EDITOR_ORIGINS",
            editor_origins(configured.as_deref(), config.proxy_port),
        );
        // By env, never argv: argv is world-readable in /proc.
        command
            .env("SYNC_TOKEN", token)
            .current_dir(work_dir.root())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr)
            // Its own group, so signals aimed at the provisioner's terminal
            // do not reach it and stopping it reaches all it started.
            .process_group(0);
        let mut child = command
            .spawn()
            .with_context(|| format!("failed to start `{}`", config.sync_daemon_bin.display()))?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .context("daemon has no pid")?;
        let start_time = process_tree::process_info(pid).map_or(0, |info| info.start_time);
        work_dir.write_pid(PidRecord { pid, start_time })?;

        let (exited_sender, exited) = watch::channel(false);
        let app = app_id.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            tracing::info!(app_id = %app, pid, status = ?status, "preview daemon exited");
            let _ = exited_sender.send(true);
            on_exit(pid);
        });
        tracing::info!(app_id = %app_id, pid, port = launch.port, "preview daemon started");
        Ok(DaemonProcess {
            pid,
            port: launch.port,
            exited,
        })
    }

    pub fn is_running(&self) -> bool {
        !*self.exited.borrow()
    }

    /// SIGTERM to the daemon (which stops its dev server), SIGKILL to every
    /// group under it after `grace`. Returns once the daemon is reaped and no
    /// process of its tree remains, or after a bound.
    pub async fn stop(&self, grace: Duration) {
        let mut groups: BTreeSet<i32> = groups_under(self.pid);
        if self.is_running() {
            signal_groups(&BTreeSet::from([self.pid]), Signal::SIGTERM);
            if !self.wait_exit(grace).await {
                groups.extend(groups_under(self.pid));
                tracing::warn!(
                    pid = self.pid,
                    "preview daemon ignored SIGTERM; killing its tree"
                );
            }
        }
        signal_groups(&groups, Signal::SIGKILL);
        self.wait_exit(Duration::from_secs(5)).await;
        for _ in 0..100 {
            if !process_tree::any_group_running(&groups) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(
            pid = self.pid,
            "processes of a stopped preview still linger"
        );
    }

    /// Waits at most `bound` for the exit; returns whether it happened.
    async fn wait_exit(&self, bound: Duration) -> bool {
        let mut exited = self.exited.clone();
        tokio::time::timeout(bound, exited.wait_for(|exited| *exited))
            .await
            .is_ok()
    }
}

/// A loopback port nothing listens on right now, other than those in `taken`.
pub fn free_port(taken: &BTreeSet<u16>) -> anyhow::Result<u16> {
    for _ in 0..50 {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
        let port = listener
            .local_addr()
            .context("failed to read a bound port")?
            .port();
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    anyhow::bail!("no free loopback port found in 50 tries")
}

/// Whether something already listens on (or holds) this loopback port.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_err()
}

/// The sync-daemon next to this executable (where cargo and the images put
/// it), else the bare name for a lookup in `PATH` when a preview starts: a
/// provisioner that never runs a local preview must not need one.
pub fn default_daemon_bin() -> std::path::PathBuf {
    let next_to_me = std::env::current_exe().ok().and_then(|me| {
        let dir = me.parent()?.to_path_buf();
        // Test binaries live one level down, in target/<profile>/deps.
        [dir.join("sync-daemon"), dir.join("../sync-daemon")]
            .into_iter()
            .find(|path| path.is_file())
    });
    next_to_me.unwrap_or_else(|| std::path::PathBuf::from("sync-daemon"))
}
