//! The sync daemon: runs inside a preview, pulls the app's files from the
//! provisioner, writes them atomically, and optionally supervises the dev
//! server that serves them.
//!
//! # Layout
//!
//! - `config`: flags and environment, validated into [`Config`].
//! - `client`: the only module that talks HTTP.
//! - `sync_loop`: manifest → apply → report, wiring the `poller` (which
//!   request next, what an answer or failure means) to I/O, the watcher and
//!   shutdown; `apply` is one cycle: observe, `plan` (the pure ownership
//!   rules), `stage`, burst.
//! - `index`, `fsio`, `staging`, `fetch`: what is on disk, safe paths,
//!   where new content waits, and verified downloads.
//! - `watch`: inotify on the synced directories, to notice local edits.
//! - `status`: the sync-status reporter; `supervise`: the dev server
//!   (detected or given, on a private loopback port); `gateway`: the
//!   preview's front door on `PORT`, forwarding to the dev server.
//! - `logging`: text or JSON log lines (`--log-format`, `LOG_FORMAT`).
//!
//! # State directory
//!
//! Outside the synced tree (default: the sibling `.<dirname>.sync`):
//! `index.json` and `index.log` (applied revision; every file the daemon
//! wrote, with its sha256 and inode stamp: a snapshot and the changes since), `staging/` (content of the cycle in flight),
//! `displaced/` (copies of local files the server's version replaced),
//! `install.sha256` (what the last successful install saw).
//!
//! # Invariants
//!
//! A file in the tree is never written in place; the daemon deletes only
//! paths its index lists; nothing is written through a symlink or outside
//! `--dir`; the sync token never reaches a log.

pub mod apply;
pub mod backoff;
pub mod burst;
pub mod client;
pub mod config;
pub mod controls;
pub mod digest;
pub mod early;
pub mod error;
pub mod fetch;
pub mod fsio;
pub mod gateway;
pub mod graft;
pub mod heap;
pub mod index;
pub mod journal;
pub mod logging;
pub mod logs;
pub mod plan;
pub mod poller;
pub mod refusals;
pub mod render;
pub mod run_as;
pub mod sandbox;
pub mod settings;
pub mod stage;
pub mod staging;
pub mod status;
pub mod supervise;
pub mod sync_loop;
pub mod watch;

use std::future::Future;
use std::path::Path;

use sync_protocol::DevServerState;
use tokio::sync::watch as channel;
use tracing::Instrument;

pub use config::{Args, Config};
pub use error::CriticalError;

use crate::client::Client;
use crate::status::StatusBoard;

/// How long the daemon waits on exit for its last sync-status to land.
const FINAL_REPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the daemon until `shutdown` resolves (then stops the dev server and
/// returns `Ok`), until `--once` has converged, or until a critical error.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), CriticalError> {
    prepare_directories(&config)?;
    let client = Client::new(&config)?;
    if config.once && config.supervise.is_some() {
        tracing::warn!("--once converges and exits; --exec is ignored");
    }
    let supervise = config.supervise.clone().filter(|_| !config.once);
    let initial = if supervise.is_some() {
        DevServerState::Starting
    } else {
        DevServerState::None
    };
    let board = StatusBoard::new(initial);
    let reporter = tokio::spawn(status::report_changes(client.clone(), board.subscribe()));
    let (applied, applied_receiver) = channel::channel(None);
    let (stop, stop_receiver) = channel::channel(false);
    tracing::info!(app_id = %config.app_id, dir = %config.dir.display(), state_dir = %config.state_dir.display(), "starting");

    let mut gateway = None;
    let mut shipper = None;
    let supervisor = match supervise {
        Some(supervise) => {
            let (settings, access) = settings::SettingsSource::new(client.clone());
            tokio::spawn(settings.clone().keep_fresh(stop_receiver.clone()));
            let (context, listener, state) = gateway_and_context(
                &config,
                supervise,
                &board,
                settings,
                access,
                stop_receiver.clone(),
            )
            .await?;
            tracing::info!(gateway = %listener.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string()), dev_port = context.dev_port, "preview gateway listening");
            shipper = Some(tokio::spawn(logs::run(
                client.clone(),
                context.output.outbox().clone(),
                stop_receiver.clone(),
            )));
            gateway = Some(tokio::spawn(
                gateway::serve(listener, state, stop_receiver.clone())
                    .instrument(tracing::info_span!("gateway")),
            ));
            let (controls, controls_receiver) = channel::channel(None);
            tokio::spawn(controls::follow(
                client.clone(),
                controls,
                stop_receiver.clone(),
            ));
            Some(tokio::spawn(
                supervise::run(
                    context,
                    applied_receiver,
                    controls_receiver,
                    stop_receiver.clone(),
                )
                .instrument(tracing::info_span!("supervise")),
            ))
        }
        None => None,
    };
    let stop_on_signal = {
        let stop = stop.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down");
            stop.send_replace(true);
        }
    };
    let result = tokio::select! {
        result = sync_loop::run(&config, &client, &board, &applied, stop_receiver)
            .instrument(tracing::info_span!("sync", app_id = %config.app_id)) => result,
        () = stop_on_signal => Ok(()),
    };
    stop.send_replace(true);
    if let Some(supervisor) = supervisor {
        match supervisor.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "dev server supervisor failed"),
            Err(error) => tracing::error!(%error, "dev server supervisor panicked"),
        }
    }
    if let Some(gateway) = gateway {
        let _ = gateway.await;
    }
    // The shipper sends the supervisor's last lines, then ends (bounded).
    if let Some(shipper) = shipper {
        let _ = shipper.await;
    }
    // Let the reporter post the final state (the revision with --once,
    // `stopped` after a shutdown): it returns once the board is gone and the
    // last value is delivered. It is not cancelled mid-request, so the server
    // never sees a status write torn off halfway.
    drop(board);
    match tokio::time::timeout(FINAL_REPORT_TIMEOUT, reporter).await {
        Ok(_) => {}
        Err(_) => tracing::warn!("final sync-status not delivered in time"),
    }
    result
}

/// Binds the gateway's port (failing fast when it is taken) and chooses the
/// dev server's private port.
async fn gateway_and_context(
    config: &Config,
    supervise: config::SuperviseConfig,
    board: &StatusBoard,
    settings: settings::SettingsSource,
    access: channel::Receiver<Option<sync_protocol::settings::DaemonAccess>>,
    stop: channel::Receiver<bool>,
) -> Result<
    (
        supervise::Context,
        tokio::net::TcpListener,
        gateway::GatewayState,
    ),
    CriticalError,
> {
    let address = std::net::SocketAddr::new(supervise.gateway_bind, supervise.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| CriticalError::GatewayBind { address, source })?;
    let dev_port = match supervise.dev_port {
        Some(port) => port,
        None => free_loopback_port().map_err(|source| CriticalError::Io {
            path: "127.0.0.1:0".into(),
            source,
        })?,
    };
    let (upstream, upstream_receiver) = channel::channel(None);
    let output = gateway::OutputTail::new();
    let pushes = render::hmr::HmrPushes::default();
    let (page, deliveries) = render::page_events::PageInbox::new(pushes.clone());
    let roots = [config.dir.display().to_string(), "/app".to_owned()];
    tokio::spawn(render::run(
        board.clone(),
        output.clone(),
        deliveries,
        roots.into(),
        stop,
    ));
    let state = gateway::GatewayState {
        upstream: upstream_receiver,
        output: output.clone(),
        board: board.clone(),
        forwarder: gateway::Forwarder::new(pushes),
        app_id: config.app_id.clone(),
        access,
        page,
        script: render::inject::script_tag(&supervise.editor_origins).into(),
    };
    let context = supervise::Context {
        config: supervise,
        dir: config.dir.clone(),
        state_dir: config.state_dir.clone(),
        board: board.clone(),
        dev_port,
        output,
        upstream,
        settings,
    };
    Ok((context, listener, state))
}

/// A loopback port nothing listens on right now.
fn free_loopback_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Makes `--dir` and the state dir, and fails fast when `--dir` cannot be
/// written: retrying would not fix permissions.
fn prepare_directories(config: &Config) -> Result<(), CriticalError> {
    let sandbox_home = config
        .supervise
        .as_ref()
        .and_then(|supervise| supervise.sandbox.as_ref())
        .map(|sandbox| &sandbox.home_dir);
    for dir in [&config.dir, &config.state_dir]
        .into_iter()
        .chain(sandbox_home)
    {
        std::fs::create_dir_all(dir).map_err(|source| CriticalError::NotWritable {
            path: dir.clone(),
            source,
        })?;
        check_writable(dir)?;
    }
    let run_as = config
        .supervise
        .as_ref()
        .and_then(|supervise| supervise.run_as.as_ref());
    if run_as.is_some() {
        // The app runs as another user: the daemon's records are its own.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.state_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|source| CriticalError::NotWritable {
                path: config.state_dir.clone(),
                source,
            })?;
    }
    Ok(())
}

fn check_writable(dir: &Path) -> Result<(), CriticalError> {
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .map_err(|errno| CriticalError::NotWritable {
        path: dir.to_owned(),
        source: std::io::Error::from(errno),
    })
}
