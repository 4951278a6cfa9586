//! The preview lifecycle end to end: the real provisioner binary on the Fly
//! driver against the spec-checked Fly Machines API emulator. Idle timeouts
//! and loop intervals are set in hundreds of milliseconds so that time-driven
//! behaviour (idle stop, reconcile) happens within a test's seconds.

mod boots;
mod faults;
mod idleness;
mod realism;
mod shared_org;
mod sweeps;
mod view;

use std::time::Duration;

use preview_tests::fly_calls;
use preview_tests::fly_emulator::FlyEmulator;
use preview_tests::lifecycle_client::{read_preview, running_preview};
use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use serde_json::Value;
use sync_protocol::{PreviewState, StepStatus};

/// Fast loops and a short idle timeout, stopping (not suspending) when idle.
pub(crate) const FAST_IDLE_STOP: &[&str] = &[
    "--idle-timeout",
    "1s",
    "--loop-interval",
    "200ms",
    "--autostop",
    "stop",
];

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

fn count(fly: &FlyEmulator, operation_id: &str) -> usize {
    fly.operation_ids()
        .iter()
        .filter(|id| *id == operation_id)
        .count()
}

#[tokio::test]
async fn lifecycle_provision_makes_exactly_the_expected_fly_calls() {
    // Arrange: loops far apart, and their pass at startup over before counting.
    let fly = FlyEmulator::start_without_lags().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &["--loop-interval", "1h"])
        .await
        .unwrap();
    wait_for_call(&fly, "Apps_list").await;
    fly.clear_calls();

    // Act
    let response = provisioner.provision_preview("shop", true).await;
    let status = response.status();
    let body = read_preview(response).await;

    // Assert
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body.state, PreviewState::Running);
    assert_eq!(body.url.as_deref(), Some("https://preview-shop.fly.dev"));
    assert_eq!(body.step_names(), fly_calls::PROVISION_STEPS);
    let all_done = body
        .steps
        .iter()
        .all(|step| step.status == StepStatus::Done && step.log.is_some());
    assert!(all_done, "{body:?}");
    assert_eq!(fly.operation_ids(), fly_calls::FIRST_PROVISION);
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}

/// Waits (bounded) until the emulator has seen a call of `operation_id`.
async fn wait_for_call(fly: &FlyEmulator, operation_id: &str) {
    for _ in 0..100 {
        if count(fly, operation_id) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {operation_id} call within 2 s");
}

#[tokio::test]
async fn lifecycle_provisioning_twice_gives_one_app() {
    // Arrange
    let fly = FlyEmulator::start().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &[]).await.unwrap();

    // Act: five at once, then once more after they settle.
    let concurrent = (0..5).map(|_| provisioner.provision_preview("shop", true));
    let statuses: Vec<StatusCode> = futures::future::join_all(concurrent)
        .await
        .iter()
        .map(|response| response.status())
        .collect();
    let again = provisioner.provision_preview("shop", true).await;

    // Assert
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(fly.app_names(), vec!["preview-shop".to_owned()]);
    assert_eq!(fly.live_machines("preview-shop").len(), 1);
    assert_eq!(count(&fly, "Apps_create"), 1);
    assert_eq!(count(&fly, "Machines_create"), 1);
    assert_eq!(provisioner.list_previews(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn lifecycle_idle_timeout_stops_and_wake_starts_from_stopped_and_suspended() {
    for (mode, asleep) in [("stop", "stopped"), ("suspend", "suspended")] {
        // Arrange
        let args = [
            "--idle-timeout",
            "1s",
            "--loop-interval",
            "200ms",
            "--autostop",
            mode,
        ];
        let (fly, provisioner) = running_preview("shop", &args).await;

        // Act
        provisioner
            .wait_for_state("shop", asleep, Duration::from_secs(10))
            .await
            .unwrap();
        let machine_asleep = fly.live_machines("preview-shop")[0].state;
        let woken = provisioner.wake_preview("shop", true).await;
        let woken_status = woken.status();
        let woken_body = read_preview(woken).await;

        // Assert
        assert_eq!(machine_asleep, asleep);
        assert_eq!(woken_status, StatusCode::OK, "{woken_body:?}");
        assert_eq!(woken_body.state, PreviewState::Running);
        assert_eq!(fly.live_machines("preview-shop")[0].state, "started");
        assert!(
            fly.rejected_calls().is_empty(),
            "{:?}",
            fly.rejected_calls()
        );
    }
}

#[tokio::test]
async fn lifecycle_heartbeats_keep_a_preview_awake() {
    // Arrange
    // An idle timeout well above the heartbeat period, so a slow request cannot lapse it.
    let args = [
        "--idle-timeout",
        "2s",
        "--loop-interval",
        "200ms",
        "--autostop",
        "stop",
    ];
    let (fly, provisioner) = running_preview("shop", &args).await;

    // Act: heartbeat for one and a half idle timeouts, then stop.
    for _ in 0..12 {
        assert_eq!(
            provisioner.report_activity("shop").await.status(),
            StatusCode::NO_CONTENT
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let while_active = provisioner.preview_state("shop").await;
    // The emulated proxy autostops machines without inbound requests unless
    // the service says `autostop: off`, which the provisioner's machines do.
    let machine_while_active = fly.live_machines("preview-shop")[0].state;
    provisioner
        .wait_for_state("shop", "stopped", Duration::from_secs(10))
        .await
        .unwrap();

    // Assert
    assert_eq!(while_active, Some(PreviewState::Running));
    assert_eq!(machine_while_active, "started");
    assert_eq!(count(&fly, "Machines_stop"), 1);
}

#[tokio::test]
async fn lifecycle_fifty_concurrent_wakes_make_one_start_call() {
    // Arrange
    let (fly, provisioner) = running_preview("shop", FAST_IDLE_STOP).await;
    provisioner
        .wait_for_state("shop", "stopped", Duration::from_secs(10))
        .await
        .unwrap();
    let starts_before = count(&fly, "Machines_start");

    // Act
    let wakes = (0..50).map(|_| provisioner.wake_preview("shop", true));
    let statuses: Vec<StatusCode> = futures::future::join_all(wakes)
        .await
        .iter()
        .map(|response| response.status())
        .collect();

    // Assert
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(count(&fly, "Machines_start") - starts_before, 1);
}

#[tokio::test]
async fn lifecycle_delete_leaves_nothing_in_the_emulator() {
    // Arrange
    let (fly, provisioner) = running_preview("shop", &[]).await;
    provisioner
        .put_file("shop", "index.html", "<h1>kept</h1>")
        .await;

    // Act
    let first = provisioner.delete_preview("shop").await;
    let second = provisioner.delete_preview("shop").await;
    let unknown = provisioner.delete_preview("never-made").await;

    // Assert
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(read_preview(second).await.state, PreviewState::Deleted);
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(fly.app_names().is_empty(), "{:?}", fly.app_names());
    let manifest = provisioner
        .request(reqwest::Method::GET, "/v1/apps/shop/files")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(manifest).await["files"].as_array().unwrap().len(),
        1,
        "files are kept"
    );
}
