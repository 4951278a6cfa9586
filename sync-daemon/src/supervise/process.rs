//! A command in its own process group, with its output forwarded to the
//! daemon's log and the gateway's output tail line by line, and a graceful
//! stop: SIGTERM to the group, SIGKILL after a grace period.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::echo::{Echo, EchoBudget};
use crate::gateway::OutputTail;
use crate::run_as::RunAs;
use crate::sandbox::Sandbox;

/// How long a dev server gets to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

pub struct Group {
    child: Child,
    /// The group id, equal to the leader's pid.
    group: Pid,
    exited: Option<ExitStatus>,
}

impl Group {
    /// Starts `sh -c command`. The error is a message for the log and the
    /// status: a failed start is retried like a crash.
    pub fn spawn(
        label: &'static str,
        command: &str,
        dir: &Path,
        environment: &[(&str, String)],
        output: &OutputTail,
        sandbox: Option<&Sandbox>,
        run_as: Option<&RunAs>,
    ) -> Result<Group, String> {
        // Inside the sandbox nothing of the daemon's environment is passed on;
        // `environment` is set there explicitly.
        let mut shell = match sandbox {
            Some(sandbox) => sandbox.command(command, environment),
            None => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(command)
                    .envs(environment.iter().map(|(name, value)| (*name, value)));
                shell
            }
        };
        if let Some(run_as) = run_as {
            crate::run_as::apply(&mut shell, run_as);
        }
        let mut child = shell
            .current_dir(dir)
            // The token opens this app's files on the provisioner; the app's
            // own code (and its npm scripts) has no use for it.
            .env_remove("SYNC_TOKEN")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start `sh -c {command}`: {error}"))?;
        let pid = child
            .id()
            .ok_or_else(|| format!("{label} exited at once"))?;
        tracing::info!(label, pid, command, "started");
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward(label, stdout, output.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward(label, stderr, output.clone()));
        }
        let group = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
        Ok(Group {
            child,
            group,
            exited: None,
        })
    }

    /// The process group id (the leader's pid).
    pub fn id(&self) -> i32 {
        self.group.as_raw()
    }

    /// Waits for the group leader to exit.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        let status = self.child.wait().await?;
        self.exited = Some(status);
        Ok(status)
    }

    /// Stops every process of the group: SIGTERM, then SIGKILL for whatever
    /// is left after [`GRACE`]. Also called after the leader exited on its
    /// own, to clean up what it left running.
    pub async fn stop(&mut self) {
        if !self.alive() {
            let _ = self.wait().await;
            return;
        }
        let _ = killpg(self.group, Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + GRACE;
        let _ = tokio::time::timeout_at(deadline, self.wait()).await;
        while self.alive() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if self.alive() {
            tracing::warn!(
                group = self.group.as_raw(),
                "process group ignored SIGTERM; sending SIGKILL"
            );
            let _ = killpg(self.group, Signal::SIGKILL);
        }
        let _ = self.wait().await;
    }

    /// Whether any process of the group still exists.
    fn alive(&self) -> bool {
        killpg(self.group, None).is_ok()
    }
}

/// A group still running when its owner goes away (the daemon stopping
/// while a dev server or an install was being started, its task dropped
/// mid-way) is killed, never left behind without its daemon. The leader is
/// not reaped before this runs, so the group id cannot name another group.
impl Drop for Group {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = killpg(self.group, Signal::SIGKILL);
        }
    }
}

/// Forwards output line by line to the output tail (and so to the
/// preview's log), repeating it in the daemon's own log within the
/// [`EchoBudget`]. Bytes that are not UTF-8 are shown lossily rather than
/// ending the forwarding: a reader that stops would leave the pipe full and
/// the dev server blocked on its next write.
async fn forward(label: &'static str, stream: impl AsyncRead + Unpin, output: OutputTail) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut budget = EchoBudget::new(Instant::now());
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                match budget.take(Instant::now()) {
                    Echo::LeaveOut => {}
                    Echo::Line => {
                        tracing::info!(target: "dev_server", "{label} | {}", text.trim_end())
                    }
                    Echo::AfterLeftOut(left_out) => {
                        tracing::info!(
                            target: "dev_server",
                            "{label} | ({left_out} lines not repeated here; the preview's log has them)"
                        );
                        tracing::info!(target: "dev_server", "{label} | {}", text.trim_end());
                    }
                }
                output.push(label, &text);
            }
        }
    }
}

/// `Ok` for a successful exit, else what went wrong, in words.
pub fn describe_exit(status: std::io::Result<ExitStatus>) -> Result<(), String> {
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(status.to_string()),
        Err(error) => Err(format!("cannot wait for it: {error}")),
    }
}
