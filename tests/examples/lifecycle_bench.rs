//! Lifecycle benchmark (run through `bench/lifecycle.sh`).
//!
//! 1. The provisioner's overhead per provision and per wake: the real binary
//!    on the Fly driver against the emulator with zero latency and instant
//!    state transitions, so the time measured is the provisioner's own work
//!    (HTTP in and out on loopback, store writes with fsync, bookkeeping).
//! 2. One idle-reaper pass and one reconciler pass over 1,000 previews in the
//!    SQLite store, with the in-memory driver so only the provisioner's cost
//!    is measured: time and resident memory.
//! 3. One reconciler pass with the real Fly driver over 1,000 previews in the
//!    emulator: the Machines API reads a pass costs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, Realism};
use preview_tests::provisioner::TestProvisioner;
use provisioner::config::Autostop;
use provisioner::fly::machine_config::PreviewMachineSettings;
use provisioner::fly::{FlyClient, FlyClientConfig};
use provisioner::fly::{FlyDriver, FlyDriverConfig, Identity};
use provisioner::lifecycle::app_files::StoreAppFiles;
use provisioner::lifecycle::clock::{Clock, ManualClock};
use provisioner::lifecycle::driver::MachineState;
use provisioner::lifecycle::driver::PreviewDriver;
use provisioner::lifecycle::memory_driver::MemoryDriver;
use provisioner::lifecycle::model::{PreviewRecord, StepStatus};
use provisioner::lifecycle::tasks::reconciler::Reconciler;
use provisioner::lifecycle::{LifecycleConfig, LifecycleService, PreviewState, idle_reaper};
use provisioner::store::SqliteStore;
use provisioner::store::previews::PreviewStore;
use sync_protocol::AppId;

const OVERHEAD_SAMPLES: usize = 50;
const STORE_PREVIEWS: usize = 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    overhead().await?;
    loops_over_a_thousand_previews().await?;
    reconciler_over_a_thousand_fly_previews().await?;
    Ok(())
}

async fn overhead() -> anyhow::Result<()> {
    let apps: Vec<String> = (0..OVERHEAD_SAMPLES)
        .map(|index| format!("bench-{index}"))
        .collect();
    let instant = || EmulatorConfig {
        transition: Duration::ZERO,
        realism: Realism::none(),
        ..EmulatorConfig::default()
    };

    // Provisions, with the loops quiet (one pass at startup, then an hour).
    let fly = FlyEmulator::start_with(instant()).await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &["--loop-interval", "1h"]).await?;
    wait_for_call(&fly, "Apps_list").await?;
    fly.clear_calls();
    let mut provisions = Vec::new();
    for app in &apps {
        let started = Instant::now();
        let response = provisioner.provision_preview(app, true).await;
        anyhow::ensure!(
            response.status().is_success(),
            "provision answered {}",
            response.status()
        );
        provisions.push(started.elapsed());
    }
    let calls_per_provision = fly.calls().len() as f64 / OVERHEAD_SAMPLES as f64;
    drop(provisioner);

    // Wakes: previews put to sleep by the idle reaper, then woken one by one.
    let fly = FlyEmulator::start_with(instant()).await;
    let args = [
        "--autostop",
        "stop",
        "--idle-timeout",
        "1s",
        "--loop-interval",
        "500ms",
    ];
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &args).await?;
    for app in &apps {
        provisioner.provision_preview(app, true).await;
    }
    for app in &apps {
        provisioner
            .wait_for_state(app, "stopped", Duration::from_secs(30))
            .await?;
    }
    fly.clear_calls();
    let mut wakes = Vec::new();
    for app in &apps {
        let started = Instant::now();
        let response = provisioner.wake_preview(app, true).await;
        anyhow::ensure!(
            response.status().is_success(),
            "wake answered {}",
            response.status()
        );
        wakes.push(started.elapsed());
    }
    // The reconciler's reads (Apps_list, Machines_list) are not the wakes' calls.
    let wake_calls = fly
        .operation_ids()
        .iter()
        .filter(|id| !matches!(id.as_str(), "Apps_list" | "Machines_list"))
        .count();
    let calls_per_wake = wake_calls as f64 / OVERHEAD_SAMPLES as f64;
    let mut running_wakes = Vec::new();
    for app in &apps {
        let started = Instant::now();
        provisioner.wake_preview(app, true).await;
        running_wakes.push(started.elapsed());
    }

    println!(
        "== provisioner overhead, Fly emulator at zero latency ({OVERHEAD_SAMPLES} previews, sequential)"
    );
    let provision_note = format!("{calls_per_provision:.1} Fly calls each; goal <= 50 ms");
    report(
        "provision (5 steps, end to end)",
        &mut provisions,
        &provision_note,
    );
    report(
        "wake from stopped",
        &mut wakes,
        &format!("{calls_per_wake:.1} Fly calls each; goal <= 5 ms"),
    );
    report(
        "wake of a running preview",
        &mut running_wakes,
        "1 Fly call: is it still started?",
    );
    Ok(())
}

/// Waits (bounded) for the emulator to see a call of `operation_id`.
async fn wait_for_call(fly: &FlyEmulator, operation_id: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if fly.operation_ids().iter().any(|id| id == operation_id) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("no {operation_id} call within 2 s")
}

async fn loops_over_a_thousand_previews() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path()).await?;
    let driver = Arc::new(MemoryDriver::new());
    let clock = Arc::new(ManualClock::new(
        provisioner::lifecycle::clock::SystemClock.now(),
    ));
    let mut config = LifecycleConfig::new("http://127.0.0.1:1".to_owned());
    config.autostop = Autostop::Stop;
    let service = LifecycleService::new(
        driver.clone(),
        Arc::new(store.clone()),
        Arc::new(StoreAppFiles {
            files: Arc::new(store.clone()),
            tokens: Arc::new(store.clone()),
            imports: Arc::new(store.clone()),
        }),
        clock.clone(),
        config,
    );
    for index in 0..STORE_PREVIEWS {
        let app_id = AppId::parse(&format!("app-{index:04}"))?;
        let mut record = PreviewRecord::new(app_id.clone(), &driver.steps(), clock.now());
        for step in &mut record.steps {
            step.status = StepStatus::Done;
        }
        record.set_state(PreviewState::Running, clock.now());
        record
            .driver_data
            .insert("machine_id".to_owned(), format!("m{index}"));
        store.save_preview(&record).await?;
        driver.set_machine(&app_id, MachineState::Started);
    }
    let reconciler = Reconciler::new(service.clone());

    println!("== background passes over {STORE_PREVIEWS} previews in SQLite (in-memory driver)");
    let rss_before = memory_kib("VmRSS");
    let started = Instant::now();
    let summary = idle_reaper::activate(&service).await;
    line(
        "reaper pass, none idle",
        started.elapsed(),
        &format!("{} running scanned", summary.running),
    );
    let started = Instant::now();
    let summary = reconciler.activate().await;
    line(
        "reconciler pass, all in agreement",
        started.elapsed(),
        &format!(
            "{} previews, {} on the platform",
            summary.previews, summary.platform
        ),
    );
    clock.advance(Duration::from_secs(3600));
    let started = Instant::now();
    let summary = idle_reaper::activate(&service).await;
    line(
        "reaper pass, all idle",
        started.elapsed(),
        &format!("{} stopped (one store write each)", summary.put_to_sleep),
    );
    driver.set_machine(&AppId::parse("app-0000")?, MachineState::Started);
    let started = Instant::now();
    let summary = reconciler.activate().await;
    line(
        "reconciler pass after",
        started.elapsed(),
        &format!("{} adopted", summary.adopted),
    );
    let rss_after = memory_kib("VmRSS");
    println!(
        "  memory: resident {} KiB before the passes, {} KiB after (+{} KiB); peak {} KiB for the whole benchmark process",
        rss_before,
        rss_after,
        rss_after.saturating_sub(rss_before),
        memory_kib("VmHWM")
    );
    store.close().await;
    Ok(())
}

/// One reconciler pass with the real Fly driver over 1,000 previews in the
/// emulator: what a pass costs in Machines API reads.
async fn reconciler_over_a_thousand_fly_previews() -> anyhow::Result<()> {
    let fly = FlyEmulator::start_with(EmulatorConfig {
        transition: Duration::ZERO,
        ..EmulatorConfig::default()
    })
    .await;
    let client = FlyClient::new(FlyClientConfig::new(fly.base_url(), "fm2_bench-token"))?;
    let driver = FlyDriver::new(
        client,
        FlyDriverConfig {
            org_slug: "personal".to_owned(),
            machine: PreviewMachineSettings::default(),
            identity: Identity::new("bench", "preview-").map_err(anyhow::Error::msg)?,
            wait_budget: Duration::from_secs(30),
            visibility_budget: Duration::from_secs(10),
            proxy_url: Some(fly.base_url().to_owned()),
            url_budget: Duration::from_secs(10),
        },
    );
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path()).await?;
    let service = LifecycleService::new(
        Arc::new(driver),
        Arc::new(store.clone()),
        Arc::new(StoreAppFiles {
            files: Arc::new(store.clone()),
            tokens: Arc::new(store.clone()),
            imports: Arc::new(store.clone()),
        }),
        Arc::new(provisioner::lifecycle::clock::SystemClock),
        LifecycleConfig::new("http://127.0.0.1:1".to_owned()),
    );
    let started = Instant::now();
    let apps: Vec<AppId> = (0..STORE_PREVIEWS)
        .map(|index| AppId::parse(&format!("fly-{index:04}")))
        .collect::<Result<_, _>>()?;
    let provisions = futures::stream::iter(apps.iter().cloned())
        .map(|app_id| {
            let service = service.clone();
            async move {
                service
                    .provision(&app_id)
                    .await?
                    .await
                    .map_err(provisioner::lifecycle::unshare)
            }
        })
        .buffer_unordered(32);
    let outcomes: Vec<_> = provisions.collect().await;
    let failed = outcomes.iter().filter(|outcome| outcome.is_err()).count();
    let setup = started.elapsed();

    println!(
        "== reconciler over {STORE_PREVIEWS} previews on the Fly driver (emulator, zero latency)"
    );
    line(
        "setup: provisioning all (32 at once)",
        setup,
        &format!("{failed} failed"),
    );
    fly.clear_calls();
    let reconciler = Reconciler::new(service.clone());
    let rss_before = memory_kib("VmRSS");
    let started = Instant::now();
    let summary = reconciler.activate().await;
    let note = format!(
        "{} previews, {} on Fly, {} repairs, {} Fly calls; resident +{} KiB",
        summary.previews,
        summary.platform,
        summary.resumed + summary.replaced + summary.adopted + summary.orphans_destroyed,
        fly.calls().len(),
        memory_kib("VmRSS").saturating_sub(rss_before)
    );
    line("reconciler pass", started.elapsed(), &note);
    store.close().await;
    Ok(())
}

fn report(name: &str, samples: &mut [Duration], note: &str) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let percentile =
        |share: f64| samples[((samples.len() as f64 * share) as usize).min(samples.len() - 1)];
    println!(
        "  {name:<34} p50 {:>7.2} ms  p95 {:>7.2} ms  mean {:>7.2} ms  ({note})",
        millis(percentile(0.5)),
        millis(percentile(0.95)),
        millis(mean)
    );
}

fn line(name: &str, elapsed: Duration, note: &str) {
    println!("  {name:<34} {:>9.2} ms  ({note})", millis(elapsed));
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A `/proc/self/status` figure in KiB (`VmRSS`: resident now; `VmHWM`: peak).
fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
