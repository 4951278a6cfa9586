//! The lifecycle when Fly machines do not simply come up (the emulator's
//! realism switches on): a start refused for capacity on wake makes a new
//! machine, a crash-looping image ends `failed` with its exit code, and a
//! suspend that Fly turned into a stop is recorded as stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, Realism, StartRefusal};
use preview_tests::lifecycle_client::{read_preview, running_preview};
use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use sync_protocol::PreviewState;
use tokio::time::Instant;

use super::FAST_IDLE_STOP;

#[tokio::test]
async fn lifecycle_a_capacity_refusal_on_wake_recreates_the_machine() {
    // Arrange: the preview went to sleep, and its host has no room for it any more.
    let (fly, provisioner) = running_preview("shop", FAST_IDLE_STOP).await;
    provisioner
        .wait_for_state("shop", "stopped", Duration::from_secs(10))
        .await
        .unwrap();
    let old_machine = fly.live_machines("preview-shop")[0].id.clone();
    fly.refuse_next_starts(1, StartRefusal::NoMemory412);

    // Act
    let started = Instant::now();
    let woken = provisioner.wake_preview("shop", true).await;
    let status = woken.status();
    let body = read_preview(woken).await;

    // Assert: running on a new machine at once, the refused one destroyed.
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(body.state, PreviewState::Running);
    assert!(started.elapsed() < Duration::from_secs(10));
    let machines = fly.live_machines("preview-shop");
    let live: Vec<_> = machines
        .iter()
        .filter(|m| m.state != "destroying")
        .collect();
    assert_eq!(live.len(), 1, "{machines:?}");
    assert_ne!(live[0].id, old_machine);
    assert_eq!(live[0].state, "started");
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}

#[tokio::test]
async fn lifecycle_a_crash_looping_image_ends_failed_with_its_exit_code() {
    // Arrange
    let image = "registry.example.com/exits-with-3:1";
    let fly = FlyEmulator::start_with(EmulatorConfig {
        realism: Realism {
            crashing_images: BTreeMap::from([(image.to_owned(), 3)]),
            ..Realism::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &["--preview-image", image])
        .await
        .unwrap();

    // Act
    let started = Instant::now();
    let answer = provisioner.provision_preview("shop", true).await;
    let answered_in = started.elapsed();
    let preview = read_preview(provisioner.get_preview("shop").await).await;

    // Assert
    assert!(!answer.status().is_success(), "{}", answer.status());
    assert_eq!(preview.state, PreviewState::Failed, "{preview:?}");
    let error = preview.error.unwrap_or_default();
    assert!(error.contains("exited with code 3"), "{error}");
    assert!(answered_in < Duration::from_secs(10), "{answered_in:?}");
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}

#[tokio::test]
async fn lifecycle_a_suspend_that_ends_as_a_stop_is_recorded_as_stopped() {
    // Arrange
    let fly = FlyEmulator::start_with(EmulatorConfig {
        realism: Realism {
            suspend_becomes_stop: true,
            ..Realism::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let args = [
        "--idle-timeout",
        "1s",
        "--loop-interval",
        "200ms",
        "--autostop",
        "suspend",
    ];
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &args).await.unwrap();
    let provisioned = provisioner.provision_preview("shop", true).await;
    assert_eq!(provisioned.status(), StatusCode::OK);

    // Act
    provisioner
        .wait_for_state("shop", "stopped", Duration::from_secs(10))
        .await
        .unwrap();
    // Passes of the reconciler later, the record still says what the machine is.
    tokio::time::sleep(Duration::from_millis(600)).await;

    // Assert
    assert_eq!(
        provisioner.preview_state("shop").await,
        Some(PreviewState::Stopped)
    );
    assert_eq!(fly.live_machines("preview-shop")[0].state, "stopped");
    assert_eq!(
        fly.operation_ids()
            .iter()
            .filter(|id| *id == "Machines_suspend")
            .count(),
        1
    );
    assert_converged_asleep(&fly);
}

/// One app with one stopped machine, nothing refused.
fn assert_converged_asleep(fly: &FlyEmulator) {
    assert_eq!(fly.app_names(), ["preview-shop"]);
    assert_eq!(fly.live_machines("preview-shop").len(), 1);
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}
