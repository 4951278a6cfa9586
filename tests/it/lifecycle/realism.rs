//! The lifecycle on Fly as it really behaves: every realism switch of the
//! emulator on, with lags long enough to matter. Provisions converge, a
//! delete followed at once by a provision makes a fresh app, and an app
//! deleted behind the provisioner's back is made again.

use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, Realism};
use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;

use super::faults::{app_names, assert_converged, wait_all_running};

const FAST_LOOPS: &[&str] = &["--loop-interval", "200ms"];

async fn lagging_fly() -> FlyEmulator {
    FlyEmulator::start_with(EmulatorConfig {
        realism: Realism {
            visibility_lag: Duration::from_millis(100),
            list_lag: Duration::from_millis(200),
            delete_lag: Duration::from_millis(300),
            ..Realism::default()
        },
        ..EmulatorConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_fifty_provisions_converge_while_fly_lags() {
    // Arrange
    let fly = lagging_fly().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, FAST_LOOPS)
        .await
        .unwrap();
    let apps = app_names("lagging", 50);

    // Act
    let provisions = apps
        .iter()
        .map(|app| provisioner.provision_preview(app, true));
    futures::future::join_all(provisions).await;
    wait_all_running(&provisioner, &apps, Duration::from_secs(40)).await;

    // Assert: none failed, one app and one machine each, no other app.
    let failed = provisioner.list_previews(Some("failed")).await.unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert_converged(&fly, &apps);
}

#[tokio::test]
async fn lifecycle_delete_then_provision_at_once_makes_a_fresh_app() {
    // Arrange
    let fly = lagging_fly().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &[]).await.unwrap();
    let first = provisioner.provision_preview("shop", true).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_app = fly.app("preview-shop").unwrap().id;

    // Act
    let deleted = provisioner.delete_preview("shop").await;
    let again = provisioner.provision_preview("shop", true).await;

    // Assert
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(again.status(), StatusCode::OK);
    let app = fly.app("preview-shop").expect("the app exists again");
    assert_ne!(app.id, first_app, "the dying app was adopted");
    assert_converged(&fly, &["shop".to_owned()]);
}

#[tokio::test]
async fn lifecycle_an_app_deleted_behind_the_provisioners_back_is_made_again() {
    // Arrange
    let fly = lagging_fly().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, FAST_LOOPS)
        .await
        .unwrap();
    let first = provisioner.provision_preview("shop", true).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_app = fly.app("preview-shop").unwrap().id;

    // Act: someone runs `fly apps destroy preview-shop`.
    assert!(fly.remove_app("preview-shop"));
    let mut recreated = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = fly
            .live_machines("preview-shop")
            .iter()
            .any(|machine| machine.state == "started");
        if started {
            recreated = fly.app("preview-shop");
            break;
        }
    }
    provisioner
        .wait_for_state("shop", "running", Duration::from_secs(10))
        .await
        .unwrap();

    // Assert
    let recreated = recreated.expect("the app was made again within 10 s");
    assert_ne!(recreated.id, first_app);
    assert_eq!(recreated.ips.len(), 2, "IPs assigned again");
    assert_converged(&fly, &["shop".to_owned()]);
}
