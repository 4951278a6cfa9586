//! DNS and proxy warm-up: a preview is called ready only once its public
//! URL answers the gateway's health route through Fly's proxy (the
//! emulator's `proxy_warmup`, on by default), bounded, with the URL named
//! when it never does; the editor sees the `wait_url` step meanwhile.

use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, ProxiedRequest, Realism};
use preview_tests::lifecycle_client::read_preview;
use preview_tests::provisioner::TestProvisioner;
use provisioner::fly::machine_config::PreviewMachineSettings;
use provisioner::fly::{FlyDriver, FlyDriverConfig, Identity};
use provisioner::lifecycle::driver::{DriverData, PreviewDriver, StopMode};
use sync_protocol::{PreviewState, StepStatus};
use tokio::time::Instant;

use crate::fly_client::{ORG, assert_spec_clean, client, preview_spec};

fn warming_fly(warmup: Duration) -> EmulatorConfig {
    EmulatorConfig {
        realism: Realism {
            proxy_warmup: warmup,
            ..Realism::default()
        },
        ..EmulatorConfig::default()
    }
}

fn driver_probing_for(fly: &FlyEmulator, url_budget: Duration) -> FlyDriver {
    let config = FlyDriverConfig {
        org_slug: ORG.to_owned(),
        identity: Identity::new("test", "preview-").unwrap(),
        machine: PreviewMachineSettings::default(),
        wait_budget: Duration::from_secs(10),
        visibility_budget: Duration::from_secs(5),
        proxy_url: Some(fly.base_url().to_owned()),
        url_budget,
    };
    FlyDriver::new(client(fly), config)
}

/// What Fly's proxy answered for `app`'s health route, in order.
fn health_answers(fly: &FlyEmulator, app: &str) -> Vec<u16> {
    let proxied = fly.proxied_requests();
    let health = proxied
        .iter()
        .filter(|request| request.app == app && request.path == "/__preview/health");
    health
        .map(|request: &ProxiedRequest| request.status)
        .collect()
}

#[tokio::test]
async fn fly_a_boot_and_a_wake_end_once_the_url_answers_through_the_proxy() {
    // Arrange: the proxy routes to a machine 400 ms after it started.
    let fly = FlyEmulator::start_with(warming_fly(Duration::from_millis(400))).await;
    let driver = driver_probing_for(&fly, Duration::from_secs(10));
    let spec = preview_spec("warm");

    // Act: provision step by step, timing the last one; then sleep and wake.
    let mut data = DriverData::new();
    let mut url_log = String::new();
    let mut url_took = Duration::ZERO;
    for step in driver.steps() {
        let started = Instant::now();
        let log = driver.run_step(step, &spec, &mut data).await.unwrap();
        if step.name() == "wait_url" {
            url_took = started.elapsed();
            url_log = log;
        }
    }
    let after_boot = health_answers(&fly, "preview-warm");
    driver
        .stop(&spec.app_id, &mut data, StopMode::Stop)
        .await
        .unwrap();
    driver.start(&spec.app_id, &mut data).await.unwrap();
    let after_wake = health_answers(&fly, "preview-warm");

    // Assert: not ready at `started`: the proxy said 503 until it warmed, then 200.
    assert!(url_took >= Duration::from_millis(200), "{url_took:?}");
    assert!(
        url_log.contains("https://preview-warm.fly.dev answers through Fly"),
        "{url_log}"
    );
    assert_eq!(after_boot.first(), Some(&503), "{after_boot:?}");
    assert_eq!(after_boot.last(), Some(&200), "{after_boot:?}");
    let wake = &after_wake[after_boot.len()..];
    assert_eq!(wake.first(), Some(&503), "the wake waited too: {wake:?}");
    assert_eq!(wake.last(), Some(&200), "{wake:?}");
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_a_url_that_never_answers_fails_its_step_within_the_bound_naming_the_url() {
    // Arrange: the name never resolves within the test.
    let fly = FlyEmulator::start_with(warming_fly(Duration::from_secs(3600))).await;
    let driver = driver_probing_for(&fly, Duration::from_secs(1));
    let spec = preview_spec("cold");
    let mut data = DriverData::new();
    let steps = driver.steps();
    let (wait_url, earlier) = steps.split_last().unwrap();
    for step in earlier {
        driver.run_step(*step, &spec, &mut data).await.unwrap();
    }

    // Act
    let started = Instant::now();
    let error = driver
        .run_step(*wait_url, &spec, &mut data)
        .await
        .unwrap_err();

    // Assert: bounded, transient (the reconciler tries again), and says why.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(error.is_transient(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("https://preview-cold.fly.dev/__preview/health"),
        "{message}"
    );
    assert!(message.contains("HTTP 503"), "{message}");
}

#[tokio::test]
async fn fly_the_editor_sees_wait_url_and_never_running_before_the_url_answers() {
    // Arrange: a warm-up long enough to be seen from outside.
    let fly = FlyEmulator::start_with(warming_fly(Duration::from_millis(1500))).await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &[]).await.unwrap();

    // Act: provision without waiting, and watch the preview.
    let accepted = provisioner.provision_preview("shop", false).await.status();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_waiting = false;
    let running = loop {
        let preview = read_preview(provisioner.get_preview("shop").await).await;
        let answered = health_answers(&fly, "preview-shop").contains(&200);
        if preview.state == PreviewState::Running {
            break (preview, answered);
        }
        let waiting = preview
            .steps
            .iter()
            .any(|step| step.name == "wait_url" && step.status == StepStatus::Running);
        seen_waiting |= waiting && preview.state == PreviewState::Provisioning;
        assert!(Instant::now() < deadline, "never running: {preview:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // Assert
    assert!(accepted.is_success(), "{accepted}");
    assert!(seen_waiting, "the wait_url step was never seen running");
    let (preview, answered_before) = running;
    assert!(
        answered_before,
        "running before the URL answered: {preview:?}"
    );
    let step = preview.steps.last().unwrap();
    assert_eq!(
        (step.name.as_str(), step.status),
        ("wait_url", StepStatus::Done)
    );
    assert_spec_clean(&fly);
}
