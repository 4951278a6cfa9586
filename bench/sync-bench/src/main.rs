//! `sync-bench`: the issue-2 benchmarks of the file path, run by
//! `bench/sync.sh`. Everything runs on loopback against the real
//! `provisioner` and `sync-daemon` binaries; every wait is bounded and every
//! child process is killed (as a group) when the run ends, however it ends.
//! What each figure means is in `bench/README.md`.

mod baseline;
mod bench;
mod measures;
mod procs;
mod proxy;
mod report;
mod tree;
mod watch;

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use preview_tests::binaries::binary_in;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::signal::unix::{SignalKind, signal};

use crate::baseline::RsyncDaemon;
use crate::bench::{Bench, Mode, Paths, exited, load_average, wait_index_revision};
use crate::measures::idle_cost::idle;
use crate::measures::initial_sync::initial_sync;
use crate::measures::long_poll_latency::long_poll_latency;
use crate::measures::one_change::one_change;
use crate::measures::polling_latency::polling_latency;
use crate::procs::Provisioner;
use crate::proxy::CountingProxy;
use crate::report::{Report, bytes, ms};

/// The app the big tree belongs to, and a one-file app for a baseline RSS.
const APP: &str = "bench";
const TINY_APP: &str = "tiny";
/// The daemon's long-poll hold (`sync_daemon::client::LONG_POLL_WAIT`).
const LONG_POLL_INTERVAL: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_secs(3);

#[derive(Debug, Parser)]
#[command(name = "sync-bench", about = "Issue-2 benchmarks of the file path")]
struct Args {
    /// Directory holding the `provisioner` and `sync-daemon` binaries.
    #[arg(long)]
    bin_dir: PathBuf,
    /// Scratch directory (trees, data dir, logs); the caller removes it.
    #[arg(long)]
    work_dir: PathBuf,
    /// Files in the big tree.
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Bytes in the big tree (on average).
    #[arg(long, default_value_t = 100_000_000)]
    tree_bytes: u64,
    /// Saves timed with long-poll (item 1).
    #[arg(long, default_value_t = 200)]
    saves: usize,
    /// Saves timed with 3 s polling (item 2), spread at random over --poll-window.
    #[arg(long, default_value_t = 40)]
    poll_saves: usize,
    /// Seconds over which item 2's saves are spread.
    #[arg(long, default_value_t = 60)]
    poll_window: u64,
    /// Seconds of idle measured (items 3 and 6).
    #[arg(long, default_value_t = 60)]
    idle: u64,
    /// Rounds of the initial-sync comparison (item 5); medians are reported.
    #[arg(long, default_value_t = 3)]
    initial_rounds: usize,
    /// Rounds of the one-change comparison (item 4); medians are reported.
    #[arg(long, default_value_t = 9)]
    change_rounds: usize,
    #[arg(long, default_value_t = 2)]
    seed: u64,
    /// Stop after item 5 (the initial-sync comparison), for profiling it.
    #[arg(long)]
    initial_only: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        _ => {
            eprintln!("sync-bench: cannot install signal handlers");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Dropping `run` on a signal drops every child handle, which kills its group.
    let result = tokio::select! {
        result = run(args) => result,
        _ = terminate.recv() => Err(anyhow::anyhow!("terminated")),
        _ = interrupt.recv() => Err(anyhow::anyhow!("interrupted")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sync-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let measuring = Instant::now();
    let work = std::path::absolute(&args.work_dir)?;
    fs::create_dir_all(&work)?;
    let logs = work.join("logs");
    fs::create_dir_all(&logs)?;
    let paths = Paths {
        src: work.join("src"),
        tar_dst: work.join("tar-dst"),
        rsync_dst: work.join("rsync-dst"),
        dir_a: work.join("daemon-a/app"),
        state_a: work.join("daemon-a/state"),
        dir_b: work.join("daemon-b/app"),
        state_b: work.join("daemon-b/state"),
        dir_c: work.join("daemon-c/app"),
        state_c: work.join("daemon-c/state"),
    };
    let api_key = format!("bench-key-{:016x}", rand::random::<u64>());
    let provisioner = Provisioner::start(
        &binary_in(&args.bin_dir, "provisioner")?,
        &work.join("data"),
        &api_key,
        &logs.join("provisioner.log"),
    )
    .await?;
    let upstream: SocketAddr = provisioner
        .base_url
        .trim_start_matches("http://")
        .parse()
        .context("provisioner address")?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()?;
    let mut bench = Bench {
        rng: StdRng::seed_from_u64(args.seed),
        daemon_binary: binary_in(&args.bin_dir, "sync-daemon")?,
        args,
        http,
        provisioner,
        upstream,
        api_key,
        token: String::new(),
        revision: 0,
        report: Report::default(),
        logs,
        clock_ticks: procs::clock_ticks(),
    };
    println!(
        "provisioner at {}, work dir {}",
        bench.provisioner.base_url,
        work.display()
    );
    bench.token = bench.mint_token(APP).await?;
    let load_at_start = load_average();

    // The tree, on disk for tar and rsync, and in the provisioner.
    let generated = Instant::now();
    let tree = tree::generate(
        &paths.src,
        bench.args.files,
        bench.args.tree_bytes,
        &mut bench.rng,
    )?;
    println!(
        "tree: {} files, {} ({:.1} s to write)",
        tree.files.len(),
        bytes(tree.total_bytes),
        generated.elapsed().as_secs_f64()
    );
    let (revision, took) = tree::upload(
        &bench.http,
        &bench.provisioner.base_url,
        &bench.api_key,
        APP,
        &paths.src,
        &tree,
    )
    .await?;
    bench.revision = revision;
    println!(
        "uploaded in batches in {:.1} s (revision {revision})",
        took.as_secs_f64()
    );

    initial_sync(&mut bench, &paths).await?;
    if bench.args.initial_only {
        finish(&mut bench, &load_at_start, measuring);
        return Ok(());
    }
    let rsync = RsyncDaemon::start(&paths.src, &work, &bench.logs.join("rsyncd.log")).await?;
    let initial_rsync = rsync.pull(&paths.rsync_dst).await?;
    bench.report.info(
        "5",
        "reference: rsync -a initial copy (rsync daemon)",
        format!(
            "{} ({} sent, {} received)",
            ms(initial_rsync.elapsed),
            bytes(initial_rsync.sent),
            bytes(initial_rsync.received)
        ),
    );

    // Daemon A: long-poll, on the tree the last --once round wrote.
    let proxy_a = CountingProxy::start(bench.upstream).await?;
    let daemon_a = bench.spawn_daemon(
        "daemon-a",
        &proxy_a.url,
        APP,
        &bench.token.clone(),
        &paths.dir_a,
        &paths.state_a,
        Mode::LongPoll,
    )?;
    bench.wait_long_polls(1).await?;
    long_poll_latency(&mut bench, &paths).await?;
    one_change(&mut bench, &paths, &tree, &rsync, &proxy_a).await?;

    // Daemon B: 3 s polling, from an empty directory.
    let proxy_b = CountingProxy::start(bench.upstream).await?;
    let started_b = Instant::now();
    let daemon_b = bench.spawn_daemon(
        "daemon-b",
        &proxy_b.url,
        APP,
        &bench.token.clone(),
        &paths.dir_b,
        &paths.state_b,
        Mode::Poll3s,
    )?;
    let converged = wait_index_revision(&paths.state_b, bench.revision, &daemon_b).await?;
    bench.report.info(
        "5",
        "long-running daemon (3 s poll, via proxy): start → converged",
        ms(converged - started_b),
    );
    ensure!(
        baseline::same_trees(&paths.dir_a, &paths.dir_b).await?,
        "daemon B's tree differs from daemon A's"
    );

    // Daemon C: long-poll, a one-file app, for the baseline RSS.
    let tiny_token = bench.mint_token(TINY_APP).await?;
    bench
        .writer()
        .put(
            TINY_APP,
            "index.html".to_owned(),
            b"<h1>tiny</h1>\n".to_vec(),
        )
        .await?;
    let daemon_c = bench.spawn_daemon(
        "daemon-c",
        &bench.provisioner.base_url.clone(),
        TINY_APP,
        &tiny_token,
        &paths.dir_c,
        &paths.state_c,
        Mode::LongPoll,
    )?;
    bench.wait_long_polls(2).await?;

    polling_latency(&mut bench, &paths, &proxy_b).await?;
    let big = format!("{}-file tree", tree.files.len());
    idle(
        &mut bench,
        [
            (format!("long-poll, {big}"), &daemon_a, Some(&proxy_a)),
            (format!("3 s poll, {big}"), &daemon_b, Some(&proxy_b)),
            ("long-poll, 1-file app".to_owned(), &daemon_c, None),
        ],
    )
    .await?;

    for (name, daemon) in [
        ("daemon A", &daemon_a),
        ("daemon B", &daemon_b),
        ("daemon C", &daemon_c),
    ] {
        if exited(daemon) {
            bail!("{name} exited early; see its log");
        }
    }
    finish(&mut bench, &load_at_start, measuring);
    Ok(())
}

/// The load beside the figures, the measuring time, then the table.
fn finish(bench: &mut Bench, load_at_start: &str, measuring: Instant) {
    bench.report.info(
        "0",
        "machine load average (1 min; 2 cores, shared) at start / end",
        format!("{load_at_start} / {}", load_average()),
    );
    println!();
    println!(
        "measuring time: {:.0} s (tree generation and upload included)",
        measuring.elapsed().as_secs_f64()
    );
    println!();
    bench.report.print_table();
}
