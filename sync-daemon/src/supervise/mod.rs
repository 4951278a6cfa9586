//! Dev server supervision (`--exec`): after the first full sync, install
//! dependencies when `package.json` or a lockfile changed since the last
//! install, start the dev server on a private loopback port behind the
//! gateway, tell the gateway where it answers once it does, restart it with
//! backoff when it exits, reinstall and restart when the dependency files
//! change, and stop its whole process group on shutdown.
//!
//! What runs is decided before every start (`launch`): `--exec`/`--install`
//! when given, else what `detect` finds in the app's files. A dev server
//! that runs but never answers is reported `unresponsive` with its last
//! output instead of `starting` forever.
//!
//! The dev server runs as `sh -c CMD` in its own process group, so one
//! `killpg` reaches npm, node and whatever they spawned; a plain `kill` of
//! the shell would orphan them and leave the port taken.

mod detect;
mod install;
pub mod launch;
pub mod ports;
mod process;
pub mod readiness;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sync_protocol::DevServerState;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::config::SuperviseConfig;
use crate::error::CriticalError;
use crate::gateway::OutputTail;
use crate::status::StatusBoard;

pub use install::install_inputs;
use launch::Launch;
use process::Group;

/// A dev server that ran this long before exiting counts as having worked:
/// its restart backoff starts over.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// How many output lines an error message carries.
const ERROR_LINES: usize = 8;

#[derive(Debug)]
pub struct Context {
    pub config: SuperviseConfig,
    pub dir: PathBuf,
    pub state_dir: PathBuf,
    pub board: StatusBoard,
    /// The private loopback port the dev server is told to use.
    pub dev_port: u16,
    pub output: OutputTail,
    /// Where the gateway forwards; `None` while the dev server does not answer.
    pub upstream: watch::Sender<Option<SocketAddr>>,
    /// The app's settings, read again before every start.
    pub settings: crate::settings::SettingsSource,
}

enum Ended {
    Exited(String),
    DependenciesChanged,
    /// A new revision of a dev server that does not reload by itself.
    FilesChanged,
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
        let settings = context.settings.refresh().await;
        let launch = Launch::plan(
            &context.dir,
            settings
                .dev_command
                .as_deref()
                .unwrap_or(&context.config.exec),
            settings
                .install_command
                .as_deref()
                .or(context.config.install.as_deref()),
            settings.port.unwrap_or(context.dev_port),
        )
        .with_env(settings.env);
        context
            .board
            .set_runtime(Some(launch.report(context.config.port)));
        if !install::install_if_needed(&context, &launch, &mut applied, &mut stop, &mut backoff)
            .await?
        {
            break;
        }
        context.board.set_dev_server(DevServerState::Starting, None);
        let started = Instant::now();
        let ended = match Group::spawn(
            "dev-server",
            &launch.dev,
            &context.dir,
            &launch.environment(),
            &context.output,
            context.config.sandbox.as_ref(),
        ) {
            Ok(mut group) => {
                let ended =
                    watch_dev_server(&context, &launch, &mut group, &mut applied, &mut stop).await;
                context.upstream.send_replace(None);
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
            Ended::FilesChanged => {
                tracing::info!(
                    "files changed; restarting the dev server, which does not reload by itself"
                );
            }
            Ended::Exited(status) => {
                if started.elapsed() >= STABLE_RUN {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                let message = format!(
                    "dev server exited ({status}); restarting in {} ms{}",
                    delay.as_millis(),
                    last_output(&context.output)
                );
                tracing::warn!("{message}");
                context
                    .board
                    .set_dev_server(DevServerState::Crashed, Some(message));
                // A new revision may be the fix: it ends the wait early.
                if wait_or_stop(delay, &mut applied, &mut stop).await {
                    break;
                }
            }
        }
    }
    context.board.set_dev_server(DevServerState::Stopped, None);
    Ok(())
}

async fn watch_dev_server(
    context: &Context,
    launch: &Launch,
    group: &mut Group,
    applied: &mut watch::Receiver<Option<u64>>,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let mut ready = false;
    let mut unresponsive = false;
    let finding = readiness::find_upstream(launch.dev_port, group.id(), context.output.clone());
    let mut finding = std::pin::pin!(finding);
    let give_up = tokio::time::sleep(context.config.ready_timeout);
    let mut give_up = std::pin::pin!(give_up);
    let installed = install::recorded_install(&context.state_dir);
    loop {
        tokio::select! {
            status = group.wait() => {
                return Ended::Exited(process::describe_exit(status).err().unwrap_or_else(|| "exit status 0".to_owned()));
            }
            upstream = &mut finding, if !ready => {
                ready = true;
                tracing::info!(%upstream, "dev server is ready");
                if upstream.port() != launch.dev_port {
                    tracing::info!(port = launch.dev_port, %upstream, "the dev server listens elsewhere than told; forwarding there");
                }
                context.board.set_upstream_port(upstream.port());
                context.upstream.send_replace(Some(upstream));
                context.board.set_dev_server(DevServerState::Ready, None);
            }
            () = &mut give_up, if !ready && !unresponsive => {
                unresponsive = true;
                let message = format!(
                    "the dev server runs but has not answered HTTP within {} s (told port {}){}",
                    context.config.ready_timeout.as_secs(),
                    launch.dev_port,
                    last_output(&context.output)
                );
                tracing::warn!("{message}");
                context.board.set_dev_server(DevServerState::Unresponsive, Some(message));
            }
            changed = applied.changed() => {
                if changed.is_err() {
                    return Ended::Stop;
                }
                let inputs = install_inputs(&context.dir);
                if inputs.is_some() && inputs != installed {
                    return Ended::DependenciesChanged;
                }
                if launch.restart_on_change {
                    return Ended::FilesChanged;
                }
            }
            () = stopping(stop) => return Ended::Stop,
        }
    }
}

/// `; last output: ...` with the last lines printed, or nothing.
fn last_output(output: &OutputTail) -> String {
    let lines = output.last(ERROR_LINES);
    if lines.is_empty() {
        return String::new();
    }
    format!("; last output:\n{}", lines.join("\n"))
}

/// Resolves once shutdown is asked for (or its sender is gone). Drops the
/// channel's read guard before returning, so callers stay `Send`.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await.map(drop);
}

/// Waits `delay` or until a new revision is applied; returns true when
/// shutdown came first.
async fn wait_or_stop(
    delay: Duration,
    applied: &mut watch::Receiver<Option<u64>>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => false,
        changed = applied.changed() => changed.is_err(),
        () = stopping(stop) => true,
    }
}
