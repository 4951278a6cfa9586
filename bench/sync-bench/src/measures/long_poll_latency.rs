//! Item 1: save → exact content on disk, with the daemon long-polling.

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;

use crate::APP;
use crate::bench::*;
use crate::report::{Verdict, ms, p50_p99, percentile};
use crate::tree;
use crate::watch::DirWatch;

/// Item 1: save → exact content on disk, daemon A long-polling.
pub async fn long_poll_latency(bench: &mut Bench, paths: &Paths) -> anyhow::Result<()> {
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
        "≤ 5 ms",
        Verdict::of(p50 <= Duration::from_millis(5)),
    );
    report.add(
        "1",
        "long-poll save → on disk, p99",
        ms(p99),
        "≤ 25 ms",
        Verdict::of(p99 <= Duration::from_millis(25)),
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
