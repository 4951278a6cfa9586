//! Convergence under trouble: a flaky, slow Fly and a provisioner killed
//! mid-provisioning. However the calls fail, every preview ends up running
//! with exactly one app and one machine, and nothing is left on Fly that the
//! store does not know.

use std::collections::BTreeSet;
use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, Faults, FlyEmulator};
use preview_tests::provisioner::TestProvisioner;
use rand::Rng;

/// Loops fast enough that the reconciler resumes a stalled provisioning within a test.
const FAST_LOOPS: &[&str] = &["--loop-interval", "200ms"];

pub(super) fn app_names(prefix: &str, count: usize) -> Vec<String> {
    (0..count)
        .map(|index| format!("{prefix}-{index}"))
        .collect()
}

/// Polls until every app's preview runs, at most `timeout`.
pub(super) async fn wait_all_running(
    provisioner: &TestProvisioner,
    apps: &[String],
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let running: BTreeSet<String> = provisioner
            .list_previews(Some("running"))
            .await
            .unwrap_or_default()
            .iter()
            .map(|preview| preview.app_id.as_str().to_owned())
            .collect();
        let missing: Vec<&String> = apps.iter().filter(|app| !running.contains(*app)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not running after {timeout:?}: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Exactly one app with one live machine per preview, and no other app.
pub(super) fn assert_converged(fly: &FlyEmulator, apps: &[String]) {
    let expected: BTreeSet<String> = apps.iter().map(|app| format!("preview-{app}")).collect();
    let actual: BTreeSet<String> = fly.app_names().into_iter().collect();
    assert_eq!(actual, expected, "apps on Fly differ from the previews");
    for name in &expected {
        let machines = fly.live_machines(name);
        assert_eq!(machines.len(), 1, "{name} has {} machines", machines.len());
        assert_eq!(machines[0].state, "started", "{name}");
    }
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_hundred_provisions_converge_under_faults() {
    // Arrange
    let faults = Faults {
        rate_429: 0.15,
        rate_5xx: 0.15,
        retry_after_seconds: 1,
        latency: Duration::from_millis(2),
        spike_rate: 0.05,
        spike: Duration::from_millis(400),
    };
    let fly = FlyEmulator::start_with(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, FAST_LOOPS)
        .await
        .unwrap();
    let apps = app_names("flaky", 100);

    // Act: every provision asked at once; some answer 503 and resume by themselves.
    let provisions = apps
        .iter()
        .map(|app| provisioner.provision_preview(app, true));
    futures::future::join_all(provisions).await;
    wait_all_running(&provisioner, &apps, Duration::from_secs(40)).await;
    fly.set_faults(Faults::default());

    // Assert
    assert_converged(&fly, &apps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_killed_provisioner_resumes_without_leaks() {
    // Arrange
    let fly = FlyEmulator::start_with(EmulatorConfig {
        faults: Faults {
            latency: Duration::from_millis(20),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let mut provisioner = TestProvisioner::spawn_on_fly(&fly, FAST_LOOPS)
        .await
        .unwrap();
    let apps = app_names("crashy", 20);

    // Act: start all twenty, then kill -9 at random moments while they run.
    for app in &apps {
        let response = provisioner.provision_preview(app, false).await;
        assert!(response.status().is_success(), "{}", response.status());
    }
    let mut interrupted = 0;
    for _ in 0..4 {
        let pause = rand::rng().random_range(20..150);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        interrupted += provisioner
            .list_previews(Some("provisioning"))
            .await
            .unwrap()
            .len();
        provisioner.restart().await.unwrap();
    }
    wait_all_running(&provisioner, &apps, Duration::from_secs(40)).await;

    // Assert
    assert!(interrupted > 0, "no kill landed during a provisioning");
    assert_converged(&fly, &apps);
}
