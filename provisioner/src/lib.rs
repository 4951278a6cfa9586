//! The provisioner: stores each app's files, serves them to the sync daemons,
//! and runs one live preview per app on Fly.io (or, without a Fly token, as
//! local processes behind its own edge proxy).

pub mod app;
pub mod cli;
pub mod config;
pub mod files;
pub mod fly;
pub mod http;
pub mod import;
pub mod lifecycle;
pub mod local;
pub mod logs;
pub mod platform;
pub mod settings;
pub mod store;
pub mod telemetry;

use std::process::ExitCode;

use config::{Cli, Command, ServeArgs};

/// Runs a parsed command line: `serve` logs through `tracing`; the client
/// commands print their own errors (`cli::exit`).
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => {
            telemetry::init();
            match serve(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error.cause_chain = ?error, "provisioner stopped: {error:#}");
                    eprintln!("provisioner: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Push(args) => cli::exit(cli::push::push(args).await),
        Command::Previews(args) => cli::exit(cli::previews::run(args).await),
        Command::Openapi => {
            print!("{}", http::openapi::document_json());
            ExitCode::SUCCESS
        }
    }
}

/// `provisioner serve`: builds the application, prints the two lines other
/// programs read from stdout (a generated key, once; the bound address), and
/// serves until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let application = app::Application::build(args).await?;
    if let Some(key) = application.generated_api_key() {
        // Printed once, to stdout only: later starts reuse the kept key silently.
        println!("generated operator API key (kept in the data dir): {key}");
    }
    // Tests and scripts parse this line; keep its prefix exactly.
    println!("listening on http://{}", application.local_addr());
    application.run_until(shutdown_signal()).await
}

/// Completes on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        tracing::warn!("cannot listen for SIGTERM; stopping on Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
