//! Dev server supervision (`--exec`): after the first full sync, install
//! dependencies when `package.json` or a lockfile changed since the last
//! install, start the dev server, restart it with backoff when it exits,
//! reinstall and restart when the dependency files change, and stop its
//! whole process group on shutdown.
//!
//! The dev server runs as `sh -c CMD` in its own process group, so one
//! `killpg` reaches npm, node and whatever they spawned; a plain `kill` of
//! the shell would orphan them and leave the port taken.

mod process;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sync_protocol::DevServerState;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::config::SuperviseConfig;
use crate::error::CriticalError;
use crate::fsio;
use crate::status::StatusBoard;

use process::Group;

/// Files whose change means dependencies must be installed again.
const INSTALL_INPUTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
];
/// A dev server that ran this long before exiting counts as having worked:
/// its restart backoff starts over.
const STABLE_RUN: Duration = Duration::from_secs(60);
const PROBE_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct Context {
    pub config: SuperviseConfig,
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    pub board: StatusBoard,
}

enum Ended {
    Exited(String),
    DependenciesChanged,
    Stop,
}

pub async fn run(
    context: Context,
    mut applied: watch::Receiver<Option<u64>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), CriticalError> {
    tokio::select! {
        synced = applied.wait_for(Option::is_some) => if synced.map(drop).is_err() { return Ok(()) },
        () = stopping(&mut stop) => return Ok(()),
    }
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        if !install_if_needed(&context, &mut applied, &mut stop, &mut backoff).await? {
            break;
        }
        context.board.set_dev_server(DevServerState::Starting, None);
        let started = Instant::now();
        let ended = match Group::spawn(
            "dev-server",
            &context.config.exec,
            &context.dir,
            context.config.port,
            context.config.sandbox.as_ref(),
        ) {
            Ok(mut group) => {
                let ended = watch_dev_server(&context, &mut group, &mut applied, &mut stop).await;
                group.stop().await;
                ended
            }
            Err(message) => Ended::Exited(message),
        };
        match ended {
            Ended::Stop => break,
            Ended::DependenciesChanged => {
                tracing::info!(
                    "dependency files changed; reinstalling and restarting the dev server"
                );
            }
            Ended::Exited(status) => {
                if started.elapsed() >= STABLE_RUN {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                let message = format!(
                    "dev server exited ({status}); restarting in {} ms",
                    delay.as_millis()
                );
                tracing::warn!("{message}");
                context
                    .board
                    .set_dev_server(DevServerState::Crashed, Some(message));
                if wait_or_stop(delay, &mut stop).await {
                    break;
                }
            }
        }
    }
    context.board.set_dev_server(DevServerState::Stopped, None);
    Ok(())
}

/// Runs the install command until it succeeds, when the dependency files
/// differ from the last successful install. Returns false on shutdown.
async fn install_if_needed(
    context: &Context,
    applied: &mut watch::Receiver<Option<u64>>,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<bool, CriticalError> {
    loop {
        let Some(inputs) = install_inputs(&context.dir) else {
            return Ok(true);
        };
        if recorded_install(&context.state_dir).as_deref() == Some(inputs.as_str()) {
            return Ok(true);
        }
        context
            .board
            .set_dev_server(DevServerState::Installing, None);
        tracing::info!(command = context.config.install, "installing dependencies");
        let status = match Group::spawn(
            "install",
            &context.config.install,
            &context.dir,
            context.config.port,
            context.config.sandbox.as_ref(),
        ) {
            Ok(mut group) => {
                let status = tokio::select! {
                    status = group.wait() => describe_exit(status),
                    () = stopping(stop) => {
                        group.stop().await;
                        return Ok(false);
                    }
                };
                group.stop().await;
                status
            }
            Err(message) => Err(message),
        };
        if status.is_ok() {
            // Hashed after the install, which may have rewritten the lockfile.
            let record = record_path(&context.state_dir);
            let after = install_inputs(&context.dir).unwrap_or_default();
            fsio::write_atomically(&record, after.as_bytes()).map_err(|source| {
                CriticalError::Io {
                    path: record,
                    source,
                }
            })?;
            backoff.reset();
            return Ok(true);
        }
        let delay = backoff.next_delay();
        let message = format!(
            "install failed ({}); retrying in {} ms",
            status.unwrap_err(),
            delay.as_millis()
        );
        tracing::warn!("{message}");
        context
            .board
            .set_dev_server(DevServerState::Crashed, Some(message));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = applied.changed() => {}
            () = stopping(stop) => return Ok(false),
        }
    }
}

async fn watch_dev_server(
    context: &Context,
    group: &mut Group,
    applied: &mut watch::Receiver<Option<u64>>,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let mut ready = false;
    let mut probe = tokio::time::interval(PROBE_EVERY);
    let installed = recorded_install(&context.state_dir);
    loop {
        tokio::select! {
            status = group.wait() => {
                return Ended::Exited(describe_exit(status).err().unwrap_or_else(|| "exit status 0".to_owned()));
            }
            _ = probe.tick(), if !ready => {
                if port_answers(context.config.port).await {
                    ready = true;
                    tracing::info!(port = context.config.port, "dev server is ready");
                    context.board.set_dev_server(DevServerState::Ready, None);
                }
            }
            changed = applied.changed() => {
                if changed.is_err() {
                    return Ended::Stop;
                }
                let inputs = install_inputs(&context.dir);
                if inputs.is_some() && inputs != installed {
                    return Ended::DependenciesChanged;
                }
            }
            () = stopping(stop) => return Ended::Stop,
        }
    }
}

/// The sha256 over the dependency files present, or `None` when there is
/// no `package.json` (nothing to install).
pub fn install_inputs(dir: &Path) -> Option<String> {
    if !dir.join("package.json").is_file() {
        return None;
    }
    let mut hasher = Sha256::new();
    for name in INSTALL_INPUTS {
        if let Ok(content) = std::fs::read(dir.join(name)) {
            hasher.update(name.as_bytes());
            hasher.update((content.len() as u64).to_le_bytes());
            hasher.update(&content);
        }
    }
    Some(hex::encode(hasher.finalize()))
}

fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("install.sha256")
}

fn recorded_install(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(record_path(state_dir)).ok()
}

/// Whether the dev server accepts connections on 127.0.0.1 or, for servers
/// that bind `localhost` and get the IPv6 loopback, on ::1.
async fn port_answers(port: u16) -> bool {
    for host in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let connect = tokio::net::TcpStream::connect((host, port));
        if matches!(
            tokio::time::timeout(Duration::from_secs(1), connect).await,
            Ok(Ok(_))
        ) {
            return true;
        }
    }
    false
}

/// `Ok` for a successful exit, else what went wrong, in words.
fn describe_exit(status: std::io::Result<std::process::ExitStatus>) -> Result<(), String> {
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(status.to_string()),
        Err(error) => Err(format!("cannot wait for it: {error}")),
    }
}

/// Resolves once shutdown is asked for (or its sender is gone). Drops the
/// channel's read guard before returning, so callers stay `Send`.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await.map(drop);
}

/// Returns true when shutdown came first.
async fn wait_or_stop(delay: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        () = stopping(stop) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_inputs_follow_package_json_and_lockfiles() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            install_inputs(dir.path()),
            None,
            "no package.json, nothing to install"
        );
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        let first = install_inputs(dir.path()).unwrap();
        std::fs::write(dir.path().join("src.js"), "unrelated").unwrap();
        assert_eq!(install_inputs(dir.path()).unwrap(), first);
        std::fs::write(dir.path().join("yarn.lock"), "# lock").unwrap();
        assert_ne!(install_inputs(dir.path()).unwrap(), first);
    }
}
