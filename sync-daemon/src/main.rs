//! `sync-daemon`: see the crate documentation in `lib.rs`.

use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

fn main() -> ExitCode {
    // Before the runtime starts its threads: see `heap`.
    sync_daemon::heap::one_arena();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sync-daemon: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(daemon())
}

async fn daemon() -> ExitCode {
    let args = sync_daemon::Args::parse();
    sync_daemon::logging::init(args.log_format);
    let result = match sync_daemon::Config::from_args(args) {
        Ok(config) => sync_daemon::run(config, shutdown_signal()).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error.cause_chain = ?error, "sync-daemon stopped: {error}");
            eprintln!("sync-daemon: {error}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM (what Fly and the local driver send) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers; waiting for Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}
