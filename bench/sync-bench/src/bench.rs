//! What every measurement shares: the provisioner, the HTTP client, the
//! report, the daemons' paths and modes, and the waits on a daemon's progress.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use rand::rngs::StdRng;
use sync_protocol::{SyncTokenResponse, WriteResponse};
use tokio::process::Command;

use crate::Args;
use crate::procs::{Proc, Provisioner};
use crate::report::Report;

/// Everything the phases share.
pub struct Bench {
    pub args: Args,
    pub http: reqwest::Client,
    pub provisioner: Provisioner,
    pub upstream: SocketAddr,
    pub api_key: String,
    pub token: String,
    pub revision: u64,
    pub rng: StdRng,
    pub report: Report,
    pub logs: PathBuf,
    pub daemon_binary: PathBuf,
    pub clock_ticks: u64,
}

/// How a daemon asks for changes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    LongPoll,
    Poll3s,
    Once,
}

pub struct Paths {
    pub src: PathBuf,
    pub tar_dst: PathBuf,
    pub rsync_dst: PathBuf,
    pub dir_a: PathBuf,
    pub state_a: PathBuf,
    pub dir_b: PathBuf,
    pub state_b: PathBuf,
    pub dir_c: PathBuf,
    pub state_c: PathBuf,
}

/// The 1-minute load average: other work on the machine moves the tails.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Whether the process is gone or a zombie.
pub fn exited(daemon: &Proc) -> bool {
    fs::read_to_string(format!("/proc/{}/stat", daemon.pid()))
        .map_or(true, |stat| stat.contains(") Z"))
}

impl Bench {
    pub fn writer(&self) -> Writer {
        Writer {
            http: self.http.clone(),
            base_url: self.provisioner.base_url.clone(),
            api_key: self.api_key.clone(),
        }
    }

    pub async fn mint_token(&self, app: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!(
                "{}/v1/apps/{app}/sync-token",
                self.provisioner.base_url
            ))
            .bearer_auth(&self.api_key)
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "sync-token: {}",
            response.status()
        );
        Ok(response.json::<SyncTokenResponse>().await?.token)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn spawn_daemon(
        &self,
        name: &str,
        server: &str,
        app: &str,
        token: &str,
        dir: &Path,
        state_dir: &Path,
        mode: Mode,
    ) -> anyhow::Result<Proc> {
        let mut command = Command::new(&self.daemon_binary);
        command
            .args(["--server", server, "--app", app, "--dir"])
            .arg(dir)
            .arg("--state-dir")
            .arg(state_dir)
            .env("SYNC_TOKEN", token)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        match mode {
            Mode::LongPoll => {}
            Mode::Poll3s => {
                command.args(["--no-long-poll", "--interval", "3s"]);
            }
            Mode::Once => {
                command.arg("--once");
            }
        }
        Proc::spawn(name, command, &self.logs.join(format!("{name}.log")))
    }

    /// Waits until the provisioner holds at least `count` long-polls.
    pub async fn wait_long_polls(&self, count: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = self
                .http
                .get(format!("{}/metrics", self.provisioner.base_url))
                .send()
                .await?
                .text()
                .await?;
            let waiters: u64 = text
                .lines()
                .find_map(|line| line.strip_prefix("provisioner_long_poll_waiters "))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if waiters >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("fewer than {count} long-polls held after 120 s; see the daemon logs");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a `PUT` needs, owned, so a save can run in its own task.
#[derive(Clone)]
pub struct Writer {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
}

impl Writer {
    /// `PUT` one file; its revision and the moment the answer came.
    pub async fn put(
        self,
        app: &'static str,
        path: String,
        content: Vec<u8>,
    ) -> anyhow::Result<(u64, Instant)> {
        let response = self
            .http
            .put(format!("{}/v1/apps/{app}/files/{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .body(content)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        let answered = Instant::now();
        ensure!(status.is_success(), "PUT {path}: {status} {text}");
        Ok((
            serde_json::from_str::<WriteResponse>(&text)?.revision,
            answered,
        ))
    }
}

/// `elapsed_ms` of every "applied" line in a daemon log.
pub fn applied_elapsed_ms(log: &Path) -> Vec<u64> {
    applied_lines(log)
        .iter()
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("elapsed_ms="))
                .and_then(|value| value.parse().ok())
        })
        .collect()
}

/// The step timings (`observe_ms=… burst_ms=…`) of the last "applied" line
/// in a daemon log, as logged.
pub fn applied_steps(log: &Path) -> Option<String> {
    let line = applied_lines(log).pop()?;
    let steps: Vec<&str> = line
        .split_whitespace()
        .filter(|field| field.contains("_ms=") && !field.starts_with("elapsed_ms="))
        .collect();
    Some(steps.join(" "))
}

fn applied_lines(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(" applied"))
        .map(str::to_owned)
        .collect()
}

/// Waits until the daemon's saved index holds `revision` (or more).
pub async fn wait_index_revision(
    state_dir: &Path,
    revision: u64,
    daemon: &Proc,
) -> anyhow::Result<Instant> {
    let index = state_dir.join("index.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last_modified = None;
    loop {
        if let Ok(metadata) = fs::metadata(&index) {
            let modified = metadata.modified().ok();
            if modified != last_modified {
                last_modified = modified;
                let held = fs::read(&index)
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                    .and_then(|value| value.get("revision").and_then(serde_json::Value::as_u64));
                if held.is_some_and(|held| held >= revision) {
                    return Ok(Instant::now());
                }
            }
        }
        if exited(daemon) {
            bail!("the daemon exited before converging; see its log");
        }
        if Instant::now() > deadline {
            bail!("the daemon did not converge within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
