//! The Fly Machines API emulator as a process, for benchmarks and manual
//! runs: `fly-emulator --listen 127.0.0.1:4280 --latency-ms 20 --fault-rate 0.1`.
//! It prints `listening on http://ADDR` once ready and serves until killed.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use preview_tests::fly_emulator::{EmulatorConfig, Faults, FlyEmulator, Realism};

#[derive(Debug, Parser)]
#[command(
    name = "fly-emulator",
    about = "Emulates Fly's Machines API, spec-checked, with fault injection"
)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Latency added to every call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of calls that fail, split evenly between 429 and 5xx (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Share of calls that also wait --spike-ms (0.0 to 1.0).
    #[arg(long, default_value_t = 0.0)]
    spike_rate: f64,
    /// Extra latency of a spike, in milliseconds.
    #[arg(long, default_value_t = 0)]
    spike_ms: u64,
    /// How long each transient machine state lasts, in milliseconds.
    #[arg(long, default_value_t = 10)]
    transition_ms: u64,
    /// Seed of the fault generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// How long a new app or machine answers 404, in milliseconds (Fly's read-after-create lag).
    #[arg(long, default_value_t = 30)]
    visibility_lag_ms: u64,
    /// How long a new app or machine is missing from lists, in milliseconds.
    #[arg(long, default_value_t = 30)]
    list_lag_ms: u64,
    /// How long a deleted app lingers, in milliseconds (deletion is asynchronous).
    #[arg(long, default_value_t = 30)]
    delete_lag_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.fault_rate) && (0.0..=1.0).contains(&args.spike_rate),
        "--fault-rate and --spike-rate must be between 0 and 1"
    );
    let config = EmulatorConfig {
        transition: Duration::from_millis(args.transition_ms),
        faults: Faults {
            rate_429: args.fault_rate / 2.0,
            rate_5xx: args.fault_rate / 2.0,
            latency: Duration::from_millis(args.latency_ms),
            spike_rate: args.spike_rate,
            spike: Duration::from_millis(args.spike_ms),
            ..Faults::default()
        },
        seed: args.seed,
        realism: Realism {
            visibility_lag: Duration::from_millis(args.visibility_lag_ms),
            list_lag: Duration::from_millis(args.list_lag_ms),
            delete_lag: Duration::from_millis(args.delete_lag_ms),
            ..Realism::default()
        },
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let emulator = FlyEmulator::serve_on(listener, config);
    println!("listening on {}", emulator.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
