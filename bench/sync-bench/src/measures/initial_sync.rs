//! Item 5: an empty directory to a converged tree, `sync-daemon --once`
//! beside a tar pipe, and what the provisioner alone takes to serve it.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::APP;
use crate::baseline::{self};
use crate::bench::*;
use crate::report::{Verdict, median, ms, percentile};

/// Item 5: empty dir → converged, `sync-daemon --once` beside a tar pipe.
pub async fn initial_sync(bench: &mut Bench, paths: &Paths) -> anyhow::Result<()> {
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
        let log = bench.logs.join("daemon-once.log");
        let applied_ms = applied_elapsed_ms(&log).last().copied();
        applied.extend(applied_ms);
        println!(
            "  round {}: tar pipe {}, sync-daemon --once {} (its apply step logged {}: {})",
            round + 1,
            ms(tar),
            ms(took),
            applied_ms.map_or("-".to_owned(), |v| format!("{v} ms")),
            applied_steps(&log).unwrap_or_default()
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
        "≤ 1.0×",
        Verdict::of(ratio <= 1.0),
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
/// manifest, then the blobs in batches of `MAX_BLOBS_PER_BATCH` in sha256
/// order (as the daemon asks for them), one after another, bodies read and
/// dropped.
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
    let mut hashes: Vec<String> = manifest["files"]
        .as_array()
        .context("manifest without files")?
        .iter()
        .filter_map(|file| file["sha256"].as_str().map(str::to_owned))
        .collect();
    hashes.sort();
    hashes.dedup();
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
