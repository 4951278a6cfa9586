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
mod echo;
mod install;
pub mod launch;
pub mod ports;
mod process;
pub mod readiness;
pub mod restart;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sync_protocol::DevServerState;
use sync_protocol::controls::{Control, ControlKind};
use sync_protocol::logs::LogSource;
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

impl Context {
    /// Says what the supervisor does, in the daemon's log and the app's.
    fn note(&self, text: &str) {
        tracing::info!("{text}");
        self.output.note(LogSource::Daemon, text);
    }

    /// Like `note`, for what went wrong.
    fn warn(&self, text: &str) {
        tracing::warn!("{text}");
        self.output.note(LogSource::Daemon, text);
    }

    /// The dev server (or its install) failed: said in the logs, and the
    /// preview's state until it recovers.
    fn crashed(&self, message: String) {
        self.warn(&message);
        self.board
            .set_dev_server(DevServerState::Crashed, Some(message));
    }
}

enum Ended {
    Exited(String),
    DependenciesChanged,
    /// A new revision of a dev server that does not reload by itself.
    FilesChanged,
    /// A file the dev server reads only at start changed (`restart`).
    ConfigChanged,
    /// The operator asked for a restart or a rebuild.
    Control(ControlKind),
    Stop,
}

pub async fn run(
    context: Context,
    mut applied: watch::Receiver<Option<u64>>,
    mut controls: watch::Receiver<Option<Control>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), CriticalError> {
    tokio::select! {
        synced = applied.wait_for(Option::is_some) => if synced.map(drop).is_err() { return Ok(()) },
        () = stopping(&mut stop) => return Ok(()),
    }
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let mut crashes = 0;
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
        context.note(&format!("starting the dev server: {}", launch.dev));
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
                let ended = watch_dev_server(
                    &context,
                    &launch,
                    &mut group,
                    (&mut applied, &mut controls),
                    &mut stop,
                )
                .await;
                context.upstream.send_replace(None);
                group.stop().await;
                ended
            }
            Err(message) => Ended::Exited(message),
        };
        match ended {
            Ended::Stop => break,
            Ended::DependenciesChanged => {
                context
                    .note("dependency files changed; reinstalling and restarting the dev server");
            }
            Ended::FilesChanged => {
                context.note(
                    "files changed; restarting the dev server, which does not reload by itself",
                );
            }
            Ended::Control(kind) => {
                restart::carry_out(&context, kind);
                crashes = 0;
                backoff.reset();
            }
            Ended::ConfigChanged => {
                context.note(
                    "a file read only at start changed (.env, a config); restarting the dev server",
                );
            }
            Ended::Exited(status) => {
                if started.elapsed() >= STABLE_RUN {
                    backoff.reset();
                }
                let decision;
                (crashes, decision) =
                    restart::after_exit(crashes + 1, started.elapsed(), STABLE_RUN);
                if decision == restart::AfterExit::GiveUp {
                    let message = format!(
                        "dev server exited ({status}) {crashes} times in a row; not restarted until the app's files change or a restart is asked{}",
                        last_output(&context.output)
                    );
                    context.crashed(message);
                    tokio::select! {
                        changed = applied.changed() => if changed.is_err() { break },
                        Ok(()) = controls.changed() => {
                            let asked = controls.borrow_and_update().map(|control| control.kind);
                            if let Some(kind) = asked {
                                restart::carry_out(&context, kind);
                            }
                        }
                        () = stopping(&mut stop) => break,
                    }
                    crashes = 0;
                    backoff.reset();
                    continue;
                }
                let delay = backoff.next_delay();
                let message = format!(
                    "dev server exited ({status}); restarting in {} ms{}",
                    delay.as_millis(),
                    last_output(&context.output)
                );
                context.crashed(message);
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
    (applied, controls): (
        &mut watch::Receiver<Option<u64>>,
        &mut watch::Receiver<Option<Control>>,
    ),
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let mut ready = false;
    let mut unresponsive = false;
    let finding = readiness::find_upstream(launch.dev_port, group.id(), context.output.clone());
    let mut finding = std::pin::pin!(finding);
    let give_up = tokio::time::sleep(context.config.ready_timeout);
    let mut give_up = std::pin::pin!(give_up);
    let installed = install::recorded_install(&context.state_dir);
    let config = restart::restart_inputs(&context.dir);
    loop {
        tokio::select! {
            status = group.wait() => {
                return Ended::Exited(process::describe_exit(status).err().unwrap_or_else(|| "exit status 0".to_owned()));
            }
            upstream = &mut finding, if !ready => {
                ready = true;
                context.note(&format!("the dev server answers HTTP at {upstream}"));
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
                context.warn(&message);
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
                if restart::restart_inputs(&context.dir) != config {
                    return Ended::ConfigChanged;
                }
                if launch.restart_on_change {
                    return Ended::FilesChanged;
                }
            }
            Ok(()) = controls.changed() => {
                if let Some(control) = *controls.borrow_and_update() {
                    return Ended::Control(control.kind);
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
