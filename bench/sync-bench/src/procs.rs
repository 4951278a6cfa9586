//! Child processes in their own process groups (killed as a group when
//! dropped, so a shell pipeline leaves nothing behind), and what `/proc`
//! says about them.

use std::fs;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use preview_tests::launch::ServeCommand;
use tokio::process::{Child, Command};

/// A child that leads its own process group.
pub struct Proc {
    child: Child,
    pid: u32,
    name: String,
}

impl Proc {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Proc> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        Proc::start(name, command)
    }

    fn start(name: &str, mut command: Command) -> anyhow::Result<Proc> {
        command.process_group(0).kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Proc::adopt(name, child)
    }

    /// Takes over a child already started as the leader of its own group.
    fn adopt(name: &str, child: Child) -> anyhow::Result<Proc> {
        let pid = child.id().context("child has no pid")?;
        Ok(Proc {
            child,
            pid,
            name: name.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the exit, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> anyhow::Result<ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!("{} did not finish within {limit:?}", self.name),
        }
    }

    /// Sends `signal` to the whole group.
    pub fn signal(&self, signal: Signal) {
        let _ = killpg(Pid::from_raw(self.pid as i32), signal);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Members of the group may outlive its leader (a pipeline's stages).
        self.signal(Signal::SIGKILL);
        let _ = self.child.try_wait();
    }
}

/// `provisioner serve` on a free loopback port.
pub struct Provisioner {
    /// Held so the server lives as long as this value.
    _process: Proc,
    pub base_url: String,
}

impl Provisioner {
    pub async fn start(
        binary: &Path,
        data_dir: &Path,
        api_key: &str,
        log: &Path,
    ) -> anyhow::Result<Provisioner> {
        let mut command = ServeCommand::new(data_dir);
        command.binary = Some(binary.to_path_buf());
        command.api_key = Some(api_key.to_owned());
        command.env = vec![("RUST_LOG".to_owned(), "warn".to_owned())];
        command.log = Some(log.to_path_buf());
        command.own_process_group = true;
        let served = command.start().await?;
        Ok(Provisioner {
            _process: Proc::adopt("provisioner", served.child)?,
            base_url: format!("http://{}", served.address),
        })
    }
}

/// Clock ticks per second for `/proc/<pid>/stat` times.
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

/// One reading of a process's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_kb: u64,
    pub hwm_kb: u64,
    /// The resident set split: heap and stacks, and mapped files (code).
    pub anon_kb: u64,
    pub file_kb: u64,
    /// `read`-like calls (sockets included).
    pub syscr: u64,
    /// Bytes the process caused to be fetched from storage.
    pub read_bytes: u64,
}

pub fn sample(pid: u32) -> anyhow::Result<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("odd /proc stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    Ok(Sample {
        cpu_ticks: utime + stime,
        rss_kb: keyed(&status, "VmRSS:"),
        hwm_kb: keyed(&status, "VmHWM:"),
        anon_kb: keyed(&status, "RssAnon:"),
        file_kb: keyed(&status, "RssFile:"),
        syscr: keyed(&io, "syscr:"),
        read_bytes: keyed(&io, "read_bytes:"),
    })
}

fn keyed(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}
