//! The reference tools, over loopback: `tar c | nc` into `nc -l | tar x`, and
//! an rsync daemon with its config in the work dir.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use preview_tests::binaries::free_port;
use tokio::process::Command;

use crate::procs::Proc;

/// Waits until something listens on 127.0.0.1:`port`, by reading
/// `/proc/net/tcp` (a probe connection would be taken by `nc -l`).
pub async fn wait_listening(port: u16, limit: Duration) -> anyhow::Result<()> {
    let wanted = format!("0100007F:{port:04X}");
    let deadline = Instant::now() + limit;
    loop {
        let table = fs::read_to_string("/proc/net/tcp")?;
        let listening = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&wanted.as_str()) && fields.get(3) == Some(&"0A")
        });
        if listening {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("nothing listens on 127.0.0.1:{port} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn shell(script: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    command
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// `tar c -C src . | nc` into `nc -l | tar x -C dst`; the time from starting
/// the sender to the receiving tar's exit.
pub async fn tar_pipe(src: &Path, dst: &Path, log: &Path) -> anyhow::Result<Duration> {
    fs::create_dir_all(dst)?;
    let port = free_port();
    let mut receiver = Proc::spawn(
        "tar receiver",
        shell(&format!(
            "nc -l 127.0.0.1 {port} | tar x -C {}",
            quoted(dst)
        )),
        log,
    )?;
    wait_listening(port, Duration::from_secs(10)).await?;
    let started = Instant::now();
    let mut sender = Proc::spawn(
        "tar sender",
        shell(&format!(
            "tar c -C {} . | nc -N 127.0.0.1 {port}",
            quoted(src)
        )),
        log,
    )?;
    let received = receiver.wait(Duration::from_secs(120)).await?;
    let elapsed = started.elapsed();
    let sent = sender.wait(Duration::from_secs(10)).await?;
    ensure!(
        received.success() && sent.success(),
        "tar pipe failed; see {}",
        log.display()
    );
    Ok(elapsed)
}

/// An rsync daemon serving `src` read-only as module `src`.
pub struct RsyncDaemon {
    _process: Proc,
    pub port: u16,
}

impl RsyncDaemon {
    pub async fn start(src: &Path, work: &Path, log: &Path) -> anyhow::Result<RsyncDaemon> {
        let port = free_port();
        let config = work.join("rsyncd.conf");
        fs::write(
            &config,
            format!(
                "use chroot = no\nuid = root\ngid = root\npid file = {pid}\nlog file = {log}\n\
                 [src]\npath = {src}\nread only = yes\n",
                pid = work.join("rsyncd.pid").display(),
                log = log.display(),
                src = src.display(),
            ),
        )?;
        let mut command = Command::new("rsync");
        command
            .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--config={}", config.display()));
        let process = Proc::spawn("rsync daemon", command, log)?;
        wait_listening(port, Duration::from_secs(10)).await?;
        Ok(RsyncDaemon {
            _process: process,
            port,
        })
    }

    /// `rsync -a --stats rsync://127.0.0.1:PORT/src/ dst/`: wall time and
    /// the bytes the client sent and received.
    pub async fn pull(&self, dst: &Path) -> anyhow::Result<RsyncRun> {
        let started = Instant::now();
        let output = Command::new("rsync")
            .args(["-a", "--stats"])
            .arg(format!("rsync://127.0.0.1:{}/src/", self.port))
            .arg(format!("{}/", dst.display()))
            .output()
            .await
            .context("cannot run rsync")?;
        let elapsed = started.elapsed();
        let text = String::from_utf8_lossy(&output.stdout);
        ensure!(
            output.status.success(),
            "rsync failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(RsyncRun {
            elapsed,
            sent: stat(&text, "Total bytes sent:")?,
            received: stat(&text, "Total bytes received:")?,
        })
    }
}

pub struct RsyncRun {
    pub elapsed: Duration,
    pub sent: u64,
    pub received: u64,
}

fn stat(text: &str, key: &str) -> anyhow::Result<u64> {
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .with_context(|| format!("rsync --stats has no {key:?}"))?;
    let digits: String = line
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    Ok(digits.parse()?)
}

/// `diff -rq a b` succeeds: the trees hold the same files and bytes.
pub async fn same_trees(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let status = Command::new("diff")
        .arg("-rq")
        .arg(a)
        .arg(b)
        .stdout(std::process::Stdio::null())
        .status()
        .await?;
    Ok(status.success())
}

/// Moves a directory tree out of the way if present (renamed to a sibling
/// `<name>.old-<random>`, removed with the work dir at the end), then
/// flushes dirty pages so the next timed run does not pay for the previous
/// one's writeback. Not deleted here: on ext4 without a journal (this
/// machine's disk) an inode freed less than 60 s earlier is skipped when a
/// new one is allocated, by a scan that starts over for every file, so
/// 10,000 files created right after 10,000 were deleted nearby cost seconds
/// of kernel CPU (`recently_deleted` in perf) that a fresh disk, where an
/// initial sync happens, never pays (bench/README.md, issue 13).
pub async fn clear(paths: &[PathBuf]) -> anyhow::Result<()> {
    for path in paths {
        if path.exists() {
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".old-{:016x}", rand::random::<u64>()));
            fs::rename(path, &aside)?;
        }
    }
    Command::new("sync").status().await?;
    Ok(())
}
