//! State the local driver shares with the tasks that watch its daemons:
//! the process table, launching, crash relaunch and stopping.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_protocol::AppId;
use tokio::time::Instant;

use super::LocalDriverConfig;
use super::daemon::{DaemonProcess, free_port, port_in_use};
use super::process_tree;
use super::work_dir::{WorkDir, list_app_ids};
use crate::lifecycle::driver::DriverError;

/// What the driver and its process watchers share.
pub(super) struct Shared {
    pub(super) config: LocalDriverConfig,
    /// The daemons this provisioner started, by app. A daemon leaves this
    /// table before it is stopped on purpose, so an exit of one still in it
    /// is a crash, and it is started again.
    pub(super) processes: Mutex<HashMap<AppId, DaemonProcess>>,
    /// Recent unexpected exits per app, to give up on a daemon that keeps crashing.
    pub(super) crashes: Mutex<HashMap<AppId, Vec<Instant>>>,
    /// Set by `shutdown`: no process may start after it.
    pub(super) shutting_down: AtomicBool,
}

/// A daemon that exits this many times within [`CRASH_WINDOW`] stays stopped.
const CRASH_LIMIT: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(60);
/// Pause before relaunching a crashed daemon.
const CRASH_BACKOFF: Duration = Duration::from_millis(500);

impl Shared {
    pub(super) fn new(config: LocalDriverConfig) -> Shared {
        Shared {
            config,
            processes: Mutex::default(),
            crashes: Mutex::default(),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// A copy of the app's daemon handle while it runs.
    pub(super) fn running(&self, app_id: &AppId) -> Option<DaemonProcess> {
        let processes = self.processes.lock().expect("process table poisoned");
        processes
            .get(app_id)
            .filter(|process| process.is_running())
            .cloned()
    }

    pub(super) fn work_dir(&self, app_id: &AppId) -> WorkDir {
        WorkDir::new(&self.config.previews_root, app_id)
    }

    /// Starts the daemon unless it runs; returns its port.
    pub(super) fn launch(shared: &Arc<Shared>, app_id: &AppId) -> Result<u16, DriverError> {
        let this = shared.as_ref();
        if this.shutting_down.load(Ordering::SeqCst) {
            return Err(DriverError::transient("the provisioner is shutting down"));
        }
        let work_dir = this.work_dir(app_id);
        if !work_dir.exists() {
            return Err(DriverError::permanent(format!(
                "preview {app_id} has no work dir; provision it"
            )));
        }
        let mut launch = work_dir.read_launch()?;
        let mut processes = this.processes.lock().expect("process table poisoned");
        if let Some(process) = processes.get(app_id).filter(|process| process.is_running()) {
            return Ok(process.port);
        }
        if port_in_use(launch.port) {
            let taken: BTreeSet<u16> = processes.values().map(|process| process.port).collect();
            launch.port = free_port(&taken)?;
            work_dir.write_launch(&launch)?;
        }
        let watcher = Arc::downgrade(shared);
        let exited_app = app_id.clone();
        let on_exit = move |pid| {
            if let Some(shared) = watcher.upgrade() {
                Shared::after_exit(&shared, exited_app, pid);
            }
        };
        let process = DaemonProcess::spawn(&this.config, app_id, &work_dir, &launch, on_exit)?;
        processes.insert(app_id.clone(), process);
        Ok(launch.port)
    }

    /// Called when a daemon exits. One still in the table was not stopped on
    /// purpose: it crashed, and runs again after a pause unless it crashes often.
    pub(super) fn after_exit(shared: &Arc<Shared>, app_id: AppId, pid: i32) {
        let crashed = {
            let mut processes = shared.processes.lock().expect("process table poisoned");
            let ours = processes
                .get(&app_id)
                .is_some_and(|process| process.pid == pid);
            if ours {
                processes.remove(&app_id);
            }
            ours
        };
        if !crashed || shared.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        let recent = {
            let mut crashes = shared.crashes.lock().expect("crash table poisoned");
            let times = crashes.entry(app_id.clone()).or_default();
            times.retain(|time| now.duration_since(*time) < CRASH_WINDOW);
            times.push(now);
            times.len()
        };
        if recent > CRASH_LIMIT {
            tracing::error!(app_id = %app_id, recent, "preview daemon keeps crashing; leaving it stopped");
            return;
        }
        tracing::warn!(app_id = %app_id, pid, "preview daemon exited unexpectedly; starting it again");
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            tokio::time::sleep(CRASH_BACKOFF).await;
            if let Err(error) = Shared::launch(&shared, &app_id) {
                tracing::warn!(app_id = %app_id, error = %error, "relaunching a crashed preview daemon failed");
            }
        });
    }

    /// Stops the app's daemon, ours or one left by an earlier run.
    pub(super) async fn halt(&self, app_id: &AppId) {
        let process = self
            .processes
            .lock()
            .expect("process table poisoned")
            .remove(app_id);
        let work_dir = self.work_dir(app_id);
        match process {
            Some(process) => process.stop(self.config.stop_grace).await,
            None => {
                if let Some(record) = work_dir.read_pid()
                    && process_tree::is_same_process(record.pid, record.start_time)
                {
                    process_tree::kill_foreign_tree(record.pid, self.config.stop_grace).await;
                }
            }
        }
        work_dir.remove_pid();
    }

    pub(super) fn taken_ports(&self) -> BTreeSet<u16> {
        let mut taken: BTreeSet<u16> = list_app_ids(&self.config.previews_root)
            .iter()
            .filter_map(|app_id| self.work_dir(app_id).read_launch().ok())
            .map(|launch| launch.port)
            .collect();
        let processes = self.processes.lock().expect("process table poisoned");
        taken.extend(processes.values().map(|process| process.port));
        taken
    }
}
