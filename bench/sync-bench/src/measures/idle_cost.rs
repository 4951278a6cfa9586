//! Items 3 and 6: what a daemon costs when nothing changes (CPU, memory,
//! requests, bytes, file-system calls), left alone for `--idle` seconds.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::Command;

use crate::bench::*;
use crate::procs;
use crate::procs::{Proc, Sample};
use crate::proxy::{CountingProxy, Traffic};
use crate::report::Verdict;
use crate::{LONG_POLL_INTERVAL, POLL_INTERVAL};

/// Items 3 and 6: the daemons left alone for `--idle` seconds.
pub async fn idle(
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
            "≤ 10 MiB",
            Verdict::of(rss_mb <= 10.0),
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
