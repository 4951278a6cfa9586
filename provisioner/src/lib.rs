//! The provisioner: stores each app's files, serves them to the sync daemons,
//! and runs one live preview per app on Fly.io (or, without a Fly token, as
//! local processes behind its own edge proxy).

pub mod config;
pub mod fly;
pub mod http;
pub mod lifecycle;
pub mod proxy;
pub mod store;
pub mod telemetry;

use config::{Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(_args) => anyhow::bail!("serve is being built"),
    }
}
