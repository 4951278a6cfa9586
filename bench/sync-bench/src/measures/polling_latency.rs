//! Item 2: save → content on disk at random moments, with the daemon
//! polling every 3 s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use rand::Rng;

use crate::bench::*;
use crate::proxy::CountingProxy;
use crate::report::{Verdict, bytes, ms, p50_p99, percentile};
use crate::watch;
use crate::watch::DirWatch;
use crate::{APP, POLL_INTERVAL};

/// Item 2: saves at random moments, daemon B polling every 3 s.
pub async fn polling_latency(
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
