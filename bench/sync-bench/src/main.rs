//! `sync-bench`: the issue-2 benchmarks of the file path, run by
//! `bench/sync.sh`. Everything runs on loopback against the real
//! `provisioner` and `sync-daemon` binaries; every wait is bounded and every
//! child process is killed (as a group) when the run ends, however it ends.
//! What each figure means is in `bench/README.md`.

mod baseline;
mod procs;
mod proxy;
mod report;
mod tree;
mod watch;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use nix::sys::signal::Signal;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sync_protocol::{SyncTokenResponse, WriteResponse};
use tokio::process::Command;
use tokio::signal::unix::{SignalKind, signal};

use crate::baseline::RsyncDaemon;
use crate::procs::{Proc, Provisioner, Sample};
use crate::proxy::{CountingProxy, Traffic};
use crate::report::{Report, Verdict, bytes, median, ms, p50_p99, percentile};
use crate::watch::DirWatch;

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

/// Everything the phases share.
struct Bench {
    args: Args,
    http: reqwest::Client,
    provisioner: Provisioner,
    upstream: SocketAddr,
    api_key: String,
    token: String,
    revision: u64,
    rng: StdRng,
    report: Report,
    logs: PathBuf,
    daemon_binary: PathBuf,
    clock_ticks: u64,
}

/// How a daemon asks for changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    LongPoll,
    Poll3s,
    Once,
}

struct Paths {
    src: PathBuf,
    tar_dst: PathBuf,
    rsync_dst: PathBuf,
    dir_a: PathBuf,
    state_a: PathBuf,
    dir_b: PathBuf,
    state_b: PathBuf,
    dir_c: PathBuf,
    state_c: PathBuf,
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
        &args.bin_dir.join("provisioner"),
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
        daemon_binary: args.bin_dir.join("sync-daemon"),
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
    Ok(())
}

/// The 1-minute load average: other work on the machine moves the tails.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Whether the process is gone or a zombie.
fn exited(daemon: &Proc) -> bool {
    fs::read_to_string(format!("/proc/{}/stat", daemon.pid()))
        .map_or(true, |stat| stat.contains(") Z"))
}

impl Bench {
    fn writer(&self) -> Writer {
        Writer {
            http: self.http.clone(),
            base_url: self.provisioner.base_url.clone(),
            api_key: self.api_key.clone(),
        }
    }

    async fn mint_token(&self, app: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!(
                "{}/v1/apps/{app}/sync-token",
                self.provisioner.base_url
            ))
            .bearer_auth(&self.api_key)
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "sync-token: {}",
            response.status()
        );
        Ok(response.json::<SyncTokenResponse>().await?.token)
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn_daemon(
        &self,
        name: &str,
        server: &str,
        app: &str,
        token: &str,
        dir: &Path,
        state_dir: &Path,
        mode: Mode,
    ) -> anyhow::Result<Proc> {
        let mut command = Command::new(&self.daemon_binary);
        command
            .args(["--server", server, "--app", app, "--dir"])
            .arg(dir)
            .arg("--state-dir")
            .arg(state_dir)
            .env("SYNC_TOKEN", token)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        match mode {
            Mode::LongPoll => {}
            Mode::Poll3s => {
                command.args(["--no-long-poll", "--interval", "3s"]);
            }
            Mode::Once => {
                command.arg("--once");
            }
        }
        Proc::spawn(name, command, &self.logs.join(format!("{name}.log")))
    }

    /// Waits until the provisioner holds at least `count` long-polls.
    async fn wait_long_polls(&self, count: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = self
                .http
                .get(format!("{}/metrics", self.provisioner.base_url))
                .send()
                .await?
                .text()
                .await?;
            let waiters: u64 = text
                .lines()
                .find_map(|line| line.strip_prefix("provisioner_long_poll_waiters "))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if waiters >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("fewer than {count} long-polls held after 120 s; see the daemon logs");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What a `PUT` needs, owned, so a save can run in its own task.
#[derive(Clone)]
struct Writer {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl Writer {
    /// `PUT` one file; its revision and the moment the answer came.
    async fn put(
        self,
        app: &'static str,
        path: String,
        content: Vec<u8>,
    ) -> anyhow::Result<(u64, Instant)> {
        let response = self
            .http
            .put(format!("{}/v1/apps/{app}/files/{path}", self.base_url))
            .bearer_auth(&self.api_key)
            .body(content)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        let answered = Instant::now();
        ensure!(status.is_success(), "PUT {path}: {status} {text}");
        Ok((
            serde_json::from_str::<WriteResponse>(&text)?.revision,
            answered,
        ))
    }
}

/// Item 5: empty dir → converged, `sync-daemon --once` beside a tar pipe.
async fn initial_sync(bench: &mut Bench, paths: &Paths) -> anyhow::Result<()> {
    println!("\n== 5. initial sync of the tree: sync-daemon --once beside tar c | nc | tar x");
    let mut tar_times = Vec::new();
    let mut daemon_times = Vec::new();
    let mut applied = Vec::new();
    for round in 0..bench.args.initial_rounds {
        baseline::clear(std::slice::from_ref(&paths.tar_dst)).await?;
        let tar =
            baseline::tar_pipe(&paths.src, &paths.tar_dst, &bench.logs.join("tar.log")).await?;
        tar_times.push(tar);

        baseline::clear(&[paths.dir_a.clone(), paths.state_a.clone()]).await?;
        let started = Instant::now();
        let mut daemon = bench.spawn_daemon(
            "daemon-once",
            &bench.provisioner.base_url.clone(),
            APP,
            &bench.token.clone(),
            &paths.dir_a,
            &paths.state_a,
            Mode::Once,
        )?;
        let status = daemon.wait(Duration::from_secs(300)).await?;
        let took = started.elapsed();
        ensure!(
            status.success(),
            "sync-daemon --once failed; see logs/daemon-once.log"
        );
        daemon_times.push(took);
        let applied_ms = applied_elapsed_ms(&bench.logs.join("daemon-once.log"))
            .last()
            .copied();
        applied.extend(applied_ms);
        println!(
            "  round {}: tar pipe {}, sync-daemon --once {} (its apply step logged {})",
            round + 1,
            ms(tar),
            ms(took),
            applied_ms.map_or("-".to_owned(), |v| format!("{v} ms"))
        );
    }
    ensure!(
        baseline::same_trees(&paths.src, &paths.tar_dst).await?,
        "the tar copy differs from the source"
    );
    ensure!(
        baseline::same_trees(&paths.src, &paths.dir_a).await?,
        "the daemon's tree differs from the source"
    );
    let server_alone = server_read_time(bench).await?;
    let (tar, daemon) = (median(&tar_times), median(&daemon_times));
    let ratio = daemon.as_secs_f64() / tar.as_secs_f64();
    let (best_tar, best_daemon) = (percentile(&tar_times, 0.0), percentile(&daemon_times, 0.0));
    let report = &mut bench.report;
    report.info("5", "tar c | nc → nc -l | tar x, median", ms(tar));
    report.info(
        "5",
        "sync-daemon --once, empty dir → converged, median",
        ms(daemon),
    );
    if let Some(apply) = applied.iter().copied().min() {
        report.info(
            "5",
            "  its apply step (its log; manifest fetch excluded), best",
            format!("{apply} ms"),
        );
    }
    report.info(
        "5",
        "  the server alone: manifest + every blob batch, read and dropped",
        ms(server_alone),
    );
    report.add(
        "5",
        "initial sync: daemon / tar (medians)",
        format!("{ratio:.2}×"),
        "≤ 1.5×",
        Verdict::of(ratio <= 1.5),
    );
    report.info(
        "5",
        "  best rounds: daemon / tar",
        format!(
            "{} / {} = {:.2}×",
            ms(best_daemon),
            ms(best_tar),
            best_daemon.as_secs_f64() / best_tar.as_secs_f64()
        ),
    );
    Ok(())
}

/// What the provisioner alone takes to serve the initial sync: the
/// manifest, then the blobs in batches of `MAX_BLOBS_PER_BATCH` one after
/// another (as the daemon asks for them), bodies read and dropped.
async fn server_read_time(bench: &Bench) -> anyhow::Result<Duration> {
    let base = format!("{}/v1/apps/{APP}", bench.provisioner.base_url);
    let started = Instant::now();
    let manifest: serde_json::Value = bench
        .http
        .get(format!("{base}/files"))
        .bearer_auth(&bench.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let hashes: Vec<String> = manifest["files"]
        .as_array()
        .context("manifest without files")?
        .iter()
        .filter_map(|file| file["sha256"].as_str().map(str::to_owned))
        .collect();
    let mut received = 0;
    for chunk in hashes.chunks(sync_protocol::MAX_BLOBS_PER_BATCH) {
        let mut response = bench
            .http
            .post(format!("{base}/blobs"))
            .bearer_auth(&bench.token)
            .json(&sync_protocol::BlobBatchRequest {
                sha256: chunk.to_vec(),
            })
            .send()
            .await?
            .error_for_status()?;
        while let Some(bytes) = response.chunk().await? {
            received += bytes.len();
        }
    }
    ensure!(received > 0, "no blob bytes received");
    Ok(started.elapsed())
}

/// `elapsed_ms` of every "applied" line in a daemon log.
fn applied_elapsed_ms(log: &Path) -> Vec<u64> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(" applied"))
        .filter_map(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("elapsed_ms="))
                .and_then(|value| value.parse().ok())
        })
        .collect()
}

/// Item 1: save → exact content on disk, daemon A long-polling.
async fn long_poll_latency(bench: &mut Bench, paths: &Paths) -> anyhow::Result<()> {
    println!(
        "\n== 1. save → file on disk, long-poll ({} saves, 0–20 ms apart)",
        bench.args.saves
    );
    let target = paths.dir_a.join(tree::LATENCY_FILE);
    let mut watch = DirWatch::new(&[target.parent().context("no parent")?])?;
    let applied_before = applied_elapsed_ms(&bench.logs.join("daemon-a.log")).len();
    let mut latencies = Vec::new();
    let mut answers = Vec::new();
    let mut after_answer = Vec::new();
    for n in 0..bench.args.saves {
        let content = format!("save {n} {:016x}\n", bench.rng.random::<u64>()).into_bytes();
        let started = Instant::now();
        let put = tokio::spawn(bench.writer().put(
            APP,
            tree::LATENCY_FILE.to_owned(),
            content.clone(),
        ));
        let seen = watch
            .wait_for(&target, &content, Duration::from_secs(10))
            .await?;
        let (revision, answered) = put.await??;
        bench.revision = bench.revision.max(revision);
        latencies.push(seen - started);
        answers.push(answered - started);
        after_answer.push(seen.saturating_duration_since(answered));
        let gap = bench.rng.random_range(0..=20);
        tokio::time::sleep(Duration::from_millis(gap)).await;
    }
    let applied: Vec<Duration> = applied_elapsed_ms(&bench.logs.join("daemon-a.log"))
        [applied_before..]
        .iter()
        .map(|v| Duration::from_millis(*v))
        .collect();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    let report = &mut bench.report;
    report.add(
        "1",
        format!("long-poll save → on disk, p50 (n={})", latencies.len()),
        ms(p50),
        "≤ 20 ms",
        Verdict::of(p50 <= Duration::from_millis(20)),
    );
    report.add(
        "1",
        "long-poll save → on disk, p99",
        ms(p99),
        "≤ 100 ms",
        Verdict::of(p99 <= Duration::from_millis(100)),
    );
    report.info(
        "1",
        "  max; the PUT's own answer p50 / p99",
        format!(
            "{}; {} / {}",
            ms(percentile(&latencies, 100.0)),
            ms(percentile(&answers, 50.0)),
            ms(percentile(&answers, 99.0))
        ),
    );
    report.info(
        "1",
        "  PUT answered → on disk (0 when the file came first) p50 / p99",
        p50_p99(&after_answer),
    );
    if !applied.is_empty() {
        report.info(
            "1",
            "  daemon's apply step per save (its log) p50 / p99",
            p50_p99(&applied),
        );
    }
    Ok(())
}

/// Item 4: one 1 KiB change in the big tree, daemon A beside rsync.
async fn one_change(
    bench: &mut Bench,
    paths: &Paths,
    tree: &tree::Tree,
    rsync: &RsyncDaemon,
    proxy_a: &CountingProxy,
) -> anyhow::Result<()> {
    println!(
        "\n== 4. one 1 KiB change in the tree: daemon (long-poll) beside rsync -a ({} rounds)",
        bench.args.change_rounds
    );
    let mut daemon_times = Vec::new();
    let mut daemon_traffic = Vec::new();
    let mut rsync_times = Vec::new();
    let mut rsync_bytes = Vec::new();
    for round in 0..bench.args.change_rounds {
        let ordinary = tree.ordinary();
        let (path, _) = &ordinary[bench.rng.random_range(0..ordinary.len())];
        let old = fs::read(paths.src.join(path))?;
        let new = tree::change_one_kib(&old, &mut bench.rng);
        fs::write(paths.src.join(path), &new)?;

        let target = paths.dir_a.join(path);
        let mut watch = DirWatch::new(&[target.parent().context("no parent")?])?;
        let before = proxy_a.traffic();
        let started = Instant::now();
        let put = tokio::spawn(bench.writer().put(APP, path.clone(), new.clone()));
        let seen = watch
            .wait_for(&target, &new, Duration::from_secs(30))
            .await?;
        let (revision, _) = put.await??;
        bench.revision = bench.revision.max(revision);
        let took = seen - started;
        // Let the status report and the next long-poll request go out too.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let traffic = proxy_a.traffic() - before;

        let run = rsync.pull(&paths.rsync_dst).await?;
        ensure!(
            watch::holds(&paths.rsync_dst.join(path), &new),
            "rsync did not bring the change"
        );
        println!(
            "  round {}: daemon {} ({} up, {} down, {} requests); rsync {} ({} sent, {} received)",
            round + 1,
            ms(took),
            bytes(traffic.up),
            bytes(traffic.down),
            traffic.requests,
            ms(run.elapsed),
            bytes(run.sent),
            bytes(run.received)
        );
        daemon_times.push(took);
        daemon_traffic.push(traffic);
        rsync_times.push(run.elapsed);
        rsync_bytes.push(run.sent + run.received);
    }
    let (daemon, rsync_time) = (median(&daemon_times), median(&rsync_times));
    let speedup = rsync_time.as_secs_f64() / daemon.as_secs_f64();
    let middle = |mut values: Vec<u64>| {
        values.sort_unstable();
        values[values.len() / 2]
    };
    let up = middle(daemon_traffic.iter().map(|t| t.up).collect());
    let down = middle(daemon_traffic.iter().map(|t| t.down).collect());
    let requests = middle(daemon_traffic.iter().map(|t| t.requests).collect());
    let report = &mut bench.report;
    report.info(
        "4",
        "daemon: PUT → changed file on disk, median",
        ms(daemon),
    );
    report.info(
        "4",
        "  daemon bytes for it, median (status report, next long-poll included)",
        format!(
            "{} up + {} down, {requests} requests",
            bytes(up),
            bytes(down)
        ),
    );
    report.info(
        "4",
        "rsync -a (daemon on loopback), same change, median",
        format!("{} ({} in all)", ms(rsync_time), bytes(middle(rsync_bytes))),
    );
    report.add(
        "4",
        "one 1 KiB change: rsync time / daemon time (medians)",
        format!("{speedup:.1}×"),
        "≥ 20×",
        Verdict::of(speedup >= 20.0),
    );
    let (best_daemon, best_rsync) = (
        percentile(&daemon_times, 0.0),
        percentile(&rsync_times, 0.0),
    );
    report.info(
        "4",
        "  best rounds: rsync / daemon",
        format!(
            "{} / {} = {:.1}×",
            ms(best_rsync),
            ms(best_daemon),
            best_rsync.as_secs_f64() / best_daemon.as_secs_f64()
        ),
    );
    Ok(())
}

/// Waits until the daemon's saved index holds `revision` (or more).
async fn wait_index_revision(
    state_dir: &Path,
    revision: u64,
    daemon: &Proc,
) -> anyhow::Result<Instant> {
    let index = state_dir.join("index.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut last_modified = None;
    loop {
        if let Ok(metadata) = fs::metadata(&index) {
            let modified = metadata.modified().ok();
            if modified != last_modified {
                last_modified = modified;
                let held = fs::read(&index)
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                    .and_then(|value| value.get("revision").and_then(serde_json::Value::as_u64));
                if held.is_some_and(|held| held >= revision) {
                    return Ok(Instant::now());
                }
            }
        }
        if exited(daemon) {
            bail!("the daemon exited before converging; see its log");
        }
        if Instant::now() > deadline {
            bail!("the daemon did not converge within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Item 2: saves at random moments, daemon B polling every 3 s.
async fn polling_latency(
    bench: &mut Bench,
    paths: &Paths,
    proxy_b: &CountingProxy,
) -> anyhow::Result<()> {
    let window = Duration::from_secs(bench.args.poll_window);
    let traffic_before = proxy_b.traffic();
    println!(
        "\n== 2. save → file on disk, 3 s polling ({} saves at random moments over {} s)",
        bench.args.poll_saves,
        window.as_secs()
    );
    let poll_dir = paths.dir_b.join("poll");
    let mut watch = DirWatch::new(&[&poll_dir])?;
    let count = bench.args.poll_saves;
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let started: Arc<Mutex<BTreeMap<usize, Instant>>> = Arc::default();
    let mut pending = Vec::new();
    let mut puts = Vec::new();
    for n in 0..count {
        let offset = Duration::from_secs_f64(bench.rng.random_range(0.0..window.as_secs_f64()));
        let path = format!("poll/save-{n:03}.txt");
        let content = format!("poll save {n} {:016x}\n", bench.rng.random::<u64>()).into_bytes();
        pending.push((n, paths.dir_b.join(&path), content.clone()));
        let (writer, started) = (bench.writer(), Arc::clone(&started));
        puts.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + offset).await;
            started
                .lock()
                .expect("started lock")
                .insert(n, Instant::now());
            writer.put(APP, path, content).await
        }));
    }
    let deadline = Instant::now() + window + POLL_INTERVAL * 3 + Duration::from_secs(5);
    let mut latencies = Vec::new();
    while !pending.is_empty() {
        let now_started = started.lock().expect("started lock").clone();
        pending.retain(|(n, path, content)| {
            let Some(at) = now_started.get(n) else {
                return true;
            };
            if watch::holds(path, content) {
                latencies.push(Instant::now() - *at);
                return false;
            }
            true
        });
        if Instant::now() > deadline {
            bail!("{} polled saves never reached the disk", pending.len());
        }
        watch.settle().await;
    }
    for put in puts {
        let (revision, _) = put.await??;
        bench.revision = bench.revision.max(revision);
    }
    let traffic = proxy_b.traffic() - traffic_before;
    let applies = applied_elapsed_ms(&bench.logs.join("daemon-b.log"));
    // The last `count` applies at most: the first one was the initial sync.
    let recent: Vec<Duration> = applies
        .iter()
        .skip(1)
        .rev()
        .take(count)
        .map(|v| Duration::from_millis(*v))
        .collect();
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    let report = &mut bench.report;
    report.info(
        "2",
        format!("3 s polling save → on disk, p50 (n={})", latencies.len()),
        format!("{} (≈ half the interval expected)", ms(p50)),
    );
    report.add(
        "2",
        "3 s polling save → on disk, p99",
        ms(p99),
        "≤ 3.1 s",
        Verdict::of(p99 <= Duration::from_millis(3100)),
    );
    report.info(
        "2",
        "  daemon B meanwhile: traffic; its cycles that applied a change (its log) p50 / p99",
        format!(
            "{} down, {} up in {} requests; {}",
            bytes(traffic.down),
            bytes(traffic.up),
            traffic.requests,
            p50_p99(&recent)
        ),
    );
    report.info(
        "2",
        "  min / max",
        format!(
            "{} / {}",
            ms(percentile(&latencies, 0.0)),
            ms(percentile(&latencies, 100.0))
        ),
    );
    Ok(())
}

/// Items 3 and 6: the daemons left alone for `--idle` seconds.
async fn idle(
    bench: &mut Bench,
    daemons: [(String, &Proc, Option<&CountingProxy>); 3],
) -> anyhow::Result<()> {
    let seconds = bench.args.idle;
    println!("\n== 3 + 6. idle for {seconds} s: requests, bytes, disk activity, RSS, CPU");
    // Let the last changes settle: the poller's next poll, the long-polls re-armed.
    tokio::time::sleep(POLL_INTERVAL + Duration::from_secs(1)).await;
    let mut straces = Vec::new();
    for (name, daemon, proxy) in &daemons {
        if proxy.is_none() {
            continue;
        }
        let output = bench.logs.join(format!("strace-{}.txt", daemon.pid()));
        let mut command = Command::new("strace");
        command
            .args(["-c", "-f", "-qq", "-o"])
            .arg(&output)
            .arg("-p")
            .arg(daemon.pid().to_string());
        match Proc::spawn("strace", command, &bench.logs.join("strace.log")) {
            Ok(process) => straces.push((name.clone(), process, output)),
            Err(error) => println!("  (no strace: {error:#}; syscall counts left out)"),
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before: Vec<(Sample, Option<Traffic>)> = daemons
        .iter()
        .map(|(_, daemon, proxy)| Ok((procs::sample(daemon.pid())?, proxy.map(|p| p.traffic()))))
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    let mut max_rss = vec![0u64; daemons.len()];
    while started.elapsed() < Duration::from_secs(seconds) {
        for (slot, (_, daemon, _)) in max_rss.iter_mut().zip(&daemons) {
            *slot = (*slot).max(procs::sample(daemon.pid())?.rss_kb);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let elapsed = started.elapsed();
    let after: Vec<(Sample, Option<Traffic>)> = daemons
        .iter()
        .map(|(_, daemon, proxy)| Ok((procs::sample(daemon.pid())?, proxy.map(|p| p.traffic()))))
        .collect::<anyhow::Result<_>>()?;

    let mut syscalls = BTreeMap::new();
    for (name, mut process, output) in straces {
        process.signal(Signal::SIGINT);
        let _ = process.wait(Duration::from_secs(10)).await;
        syscalls.insert(name, strace_counts(&output));
    }

    for (position, (name, _, proxy)) in daemons.iter().enumerate() {
        let (start, end) = (&before[position], &after[position]);
        let cpu_seconds = (end.0.cpu_ticks - start.0.cpu_ticks) as f64 / bench.clock_ticks as f64;
        let cpu_percent = 100.0 * cpu_seconds / elapsed.as_secs_f64();
        let rss_mb = max_rss[position].max(end.0.rss_kb) as f64 / 1024.0;
        let report = &mut bench.report;
        report.add(
            "6",
            format!("idle RSS, max over {seconds} s — {name}"),
            format!(
                "{rss_mb:.1} MiB (at end: heap {:.1} + mapped files {:.1}; peak ever {:.1})",
                end.0.anon_kb as f64 / 1024.0,
                end.0.file_kb as f64 / 1024.0,
                end.0.hwm_kb as f64 / 1024.0
            ),
            "≤ 10 MB",
            Verdict::of(rss_mb * 1024.0 * 1024.0 <= 10_000_000.0),
        );
        report.add(
            "6",
            format!("idle CPU — {name}"),
            format!("{cpu_percent:.3} % of a core ({cpu_seconds:.2} s in {seconds} s)"),
            "~0 % (≤ 0.1 %)",
            Verdict::of(cpu_percent <= 0.1),
        );
        let Some(_) = proxy else { continue };
        let (Some(t0), Some(t1)) = (start.1, end.1) else {
            continue;
        };
        let traffic = t1 - t0;
        let interval = if name.starts_with("long-poll") {
            LONG_POLL_INTERVAL
        } else {
            POLL_INTERVAL
        };
        let intervals = elapsed.as_secs_f64() / interval.as_secs_f64();
        let per_interval = traffic.requests as f64 / intervals;
        let up = traffic.up / traffic.requests.max(1);
        let down = traffic.down / traffic.responses.max(1);
        let report = &mut bench.report;
        report.add(
            "3",
            format!(
                "idle requests per {}s interval — {name}",
                interval.as_secs()
            ),
            format!(
                "{per_interval:.2} ({} requests, {} responses in {:.0} s)",
                traffic.requests,
                traffic.responses,
                elapsed.as_secs_f64()
            ),
            "1",
            Verdict::of((per_interval - 1.0).abs() <= 0.5),
        );
        report.add(
            "3",
            format!("idle bytes per request up / down — {name}"),
            format!("{up} B / {down} B"),
            "≤ 300 B each",
            Verdict::of(up <= 300 && down <= 300 && traffic.requests > 0),
        );
        let disk = end.0.read_bytes - start.0.read_bytes;
        let reads = end.0.syscr - start.0.syscr;
        let scan = syscalls.get(name.as_str()).map(|counts| {
            let file_calls: u64 = counts
                .iter()
                .filter(|(call, _)| is_file_system_call(call))
                .map(|(_, n)| n)
                .sum();
            let total: u64 = counts.values().sum();
            let listed: Vec<String> = counts
                .iter()
                .filter(|(call, _)| is_file_system_call(call))
                .map(|(call, n)| format!("{call} {n}"))
                .collect();
            (file_calls, total, listed)
        });
        let (value, met) = match scan {
            Some((file_calls, total, listed)) => (
                format!(
                    "{file_calls} stat/open/getdents calls{} of {total} syscalls; {reads} read calls, {disk} B from storage",
                    if listed.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", listed.join(", "))
                    }
                ),
                file_calls == 0,
            ),
            None => (
                format!("{reads} read calls, {disk} B from storage (no strace)"),
                disk == 0,
            ),
        };
        report.add(
            "3",
            format!("idle disk scan — {name}"),
            value,
            "none",
            Verdict::of(met),
        );
    }
    Ok(())
}

/// Calls that would mean looking at the tree.
fn is_file_system_call(call: &str) -> bool {
    matches!(
        call,
        "stat"
            | "lstat"
            | "newfstatat"
            | "statx"
            | "fstatat64"
            | "open"
            | "openat"
            | "openat2"
            | "getdents"
            | "getdents64"
            | "readlink"
            | "readlinkat"
            | "access"
            | "faccessat"
            | "faccessat2"
    )
}

/// Calls per syscall from `strace -c` output.
fn strace_counts(output: &Path) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in fs::read_to_string(output).unwrap_or_default().lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].starts_with('%') || fields[0].starts_with('-') {
            continue;
        }
        let name = fields[fields.len() - 1];
        if name == "total" {
            continue;
        }
        if let Ok(calls) = fields[3].parse::<u64>() {
            *counts.entry(name.to_owned()).or_default() += calls;
        }
    }
    counts
}
