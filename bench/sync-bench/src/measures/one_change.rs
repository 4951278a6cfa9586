//! Item 4: one 1 KiB change in the big tree, the daemon beside rsync.

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use rand::Rng;

use crate::APP;
use crate::baseline::RsyncDaemon;
use crate::bench::*;
use crate::proxy::CountingProxy;
use crate::report::{Verdict, bytes, median, ms, percentile};
use crate::watch::DirWatch;
use crate::{tree, watch};

/// Item 4: one 1 KiB change in the big tree, daemon A beside rsync.
pub async fn one_change(
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
