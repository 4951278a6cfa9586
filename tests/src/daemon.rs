//! `TestDaemon`: the real `sync-daemon` binary pointed at a provisioner,
//! with its log captured to a file; `Relay`, a TCP relay on a fixed
//! loopback port so a daemon keeps one server URL across a provisioner
//! restart; and helpers to read a synced tree back.
//!
//! The binary must be built first (`cargo build --workspace --bins`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::binaries::sync_daemon_binary;

pub struct TestDaemon {
    child: Option<Child>,
    log: PathBuf,
}

/// What the daemon needs to reach its app.
#[derive(Clone, Debug)]
pub struct Target {
    pub server: String,
    pub app: String,
    pub token: String,
}

impl TestDaemon {
    /// Starts `sync-daemon --server --app --token --dir DIR ARGS...`, logging to
    /// `<log_dir>/daemon-<n>.log` (kept beside the test's temp dirs).
    pub fn spawn(
        target: &Target,
        dir: &Path,
        args: &[&str],
        log_dir: &Path,
    ) -> anyhow::Result<TestDaemon> {
        let log = log_dir.join(format!("daemon-{}.log", rand::random::<u32>()));
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let mut command = daemon_command(target, dir, args)?;
        command.stdout(log_file.try_clone()?).stderr(log_file);
        let child = command.spawn().context("failed to start sync-daemon")?;
        Ok(TestDaemon {
            child: Some(child),
            log,
        })
    }

    /// Runs `sync-daemon ... --once` to completion (bounded) and returns its
    /// exit status and combined output.
    pub async fn run_once(
        target: &Target,
        dir: &Path,
        args: &[&str],
    ) -> anyhow::Result<(ExitStatus, String)> {
        let mut command = daemon_command(target, dir, args)?;
        command
            .arg("--once")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .context("sync-daemon --once did not finish in 60 s")??;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok((output.status, text))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    pub async fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        let pid = child.id().context("already reaped")?;
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        if !kill.success() {
            bail!("kill -TERM {pid} failed");
        }
        Ok(tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .context("sync-daemon did not exit within 20 s of SIGTERM")??)
    }

    /// Sends SIGKILL (the daemon gets no chance to clean up) and waits
    /// (bounded) until the process is gone.
    pub async fn kill(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        child.start_kill().context("kill -KILL sync-daemon")?;
        Ok(tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .context("sync-daemon outlived SIGKILL by 10 s")??)
    }

    /// Waits (bounded) for the daemon to exit on its own.
    pub async fn wait(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let child = self.child.as_mut().context("already stopped")?;
        Ok(tokio::time::timeout(timeout, child.wait())
            .await
            .context("sync-daemon still running")??)
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

fn daemon_command(target: &Target, dir: &Path, args: &[&str]) -> anyhow::Result<Command> {
    let mut command = Command::new(sync_daemon_binary()?);
    command
        .args(["--server", &target.server, "--app", &target.app, "--dir"])
        .arg(dir)
        .args(args)
        // Through the environment, as in production, so it is not in argv.
        .env("SYNC_TOKEN", &target.token)
        .env("RUST_LOG", "info,sync_daemon=debug")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("SYNC_") && name != "SYNC_TOKEN" || name == "PORT" {
            command.env_remove(name);
        }
    }
    Ok(command)
}

/// Every regular file under `dir` (relative `/`-separated path → content),
/// skipping the top-level directories named in `skip`.
pub fn read_tree(dir: &Path, skip: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(dir)
                .expect("under dir")
                .to_string_lossy()
                .into_owned();
            if skip
                .iter()
                .any(|top| relative == *top || relative.starts_with(&format!("{top}/")))
            {
                continue;
            }
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() {
                files.insert(relative, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
pub async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP relay on a fixed loopback port to a changeable upstream. When the
/// upstream dies, the relayed connections close, as they would for a
/// client of the real server.
pub struct Relay {
    address: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    task: JoinHandle<()>,
}

impl Relay {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let upstream = Arc::new(Mutex::new(upstream));
        let shared = Arc::clone(&upstream);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = *shared.lock().expect("relay lock");
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(Relay {
            address,
            upstream,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn point_at(&self, upstream: SocketAddr) {
        *self.upstream.lock().expect("relay lock") = upstream;
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
