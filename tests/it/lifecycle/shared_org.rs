//! One Fly organization shared by several deployments (staging and
//! production, a laptop), and app names that are global across Fly: a
//! provisioner touches only its own deployment's apps, and a name held by
//! someone else gives a clear error naming the setting that changes it.

use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, Realism};
use preview_tests::lifecycle_client::read_preview;
use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use sync_protocol::PreviewState;

#[tokio::test]
async fn lifecycle_two_deployments_share_an_org_and_neither_touches_the_others_previews() {
    // Arrange: both reconcile every 200 ms, so an orphan would be destroyed after 600 ms.
    let fly = FlyEmulator::start().await;
    let alpha_args = ["--loop-interval", "200ms", "--deployment", "alpha"];
    let alpha = TestProvisioner::spawn_on_fly(&fly, &alpha_args)
        .await
        .unwrap();
    let beta_args = ["--loop-interval", "200ms", "--deployment", "beta"];
    let beta = TestProvisioner::spawn_on_fly(&fly, &beta_args)
        .await
        .unwrap();

    // Act: alpha makes "shop"; beta makes "cart", then asks for "shop" too.
    let alpha_shop = alpha.provision_preview("shop", true).await;
    let beta_cart = beta.provision_preview("cart", true).await;
    let alpha_machine = fly.live_machines("preview-shop")[0].id.clone();
    let beta_shop_answer = beta.provision_preview("shop", true).await.status();
    let beta_shop = read_preview(beta.get_preview("shop").await).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Assert: beta neither adopted nor destroyed alpha's app, and said why.
    assert_eq!(alpha_shop.status(), StatusCode::OK);
    assert_eq!(beta_cart.status(), StatusCode::OK);
    assert_eq!(beta_shop_answer, StatusCode::BAD_GATEWAY);
    assert_eq!(beta_shop.state, PreviewState::Failed);
    let error = beta_shop.error.unwrap_or_default();
    assert!(error.contains("another deployment"), "{error}");
    assert_eq!(fly.live_app_names(), ["preview-cart", "preview-shop"]);
    let shop = fly.live_machines("preview-shop");
    assert_eq!(shop.len(), 1, "{shop:?}");
    assert_eq!(shop[0].id, alpha_machine);
    assert_eq!(shop[0].state, "started");
    assert_eq!(fly.live_machines("preview-cart")[0].state, "started");
    assert_eq!(alpha.list_previews(Some("running")).await.unwrap().len(), 1);
    assert_eq!(beta.list_previews(Some("running")).await.unwrap().len(), 1);
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}

#[tokio::test]
async fn lifecycle_a_name_held_by_a_foreign_org_fails_clearly_and_a_prefix_makes_it_work() {
    // Arrange: "preview-demo" belongs to a stranger's organization.
    let fly = FlyEmulator::start_with(EmulatorConfig {
        realism: Realism::with_foreign_names(&["preview-demo"]),
        ..EmulatorConfig::default()
    })
    .await;
    let plain = TestProvisioner::spawn_on_fly(&fly, &[]).await.unwrap();

    // Act
    let refused_answer = plain.provision_preview("demo", true).await.status();
    let refused = read_preview(plain.get_preview("demo").await).await;
    drop(plain);
    let prefixed = TestProvisioner::spawn_on_fly(&fly, &["--fly-app-prefix", "acme-preview-"])
        .await
        .unwrap();
    let working = prefixed.provision_preview("demo", true).await;

    // Assert
    assert_eq!(refused_answer, StatusCode::BAD_GATEWAY);
    assert_eq!(refused.state, PreviewState::Failed);
    let error = refused.error.clone().unwrap_or_default();
    assert!(error.contains("another Fly organization"), "{error}");
    assert!(error.contains("FLY_APP_PREFIX"), "{error}");
    assert_eq!(working.status(), StatusCode::OK);
    let working = read_preview(working).await;
    assert_eq!(working.state, PreviewState::Running);
    assert_eq!(
        working.url.as_deref(),
        Some("https://acme-preview-demo.fly.dev")
    );
    assert_eq!(fly.live_machines("acme-preview-demo").len(), 1);
}

#[tokio::test]
async fn lifecycle_a_preview_keeps_its_app_name_when_the_prefix_changes() {
    // Arrange: a preview made under one prefix, asleep (idle stop after 1 s).
    let fly = FlyEmulator::start().await;
    let mut args = vec!["--fly-app-prefix", "old-preview-"];
    args.extend_from_slice(super::FAST_IDLE_STOP);
    let mut provisioner = TestProvisioner::spawn_on_fly(&fly, &args).await.unwrap();
    let made = read_preview(provisioner.provision_preview("shop", true).await).await;
    provisioner
        .wait_for_state("shop", "stopped", Duration::from_secs(10))
        .await
        .unwrap();

    // Act: the provisioner comes back with another prefix, lets its
    // reconciler pass a few times, then wakes, reads and deletes the preview.
    provisioner
        .restart_with("--fly-app-prefix", "new-preview-")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let apps_after_restart = fly.live_app_names();
    let woken = read_preview(provisioner.wake_preview("shop", true).await).await;
    let machines_when_woken = fly.live_machines("old-preview-shop");
    let deleted = provisioner.delete_preview("shop").await.status();
    let apps_after_delete = fly.live_app_names();
    let fresh = read_preview(provisioner.provision_preview("cart", true).await).await;

    // Assert: the old app was neither orphaned nor doubled, and is the one woken and deleted.
    assert_eq!(
        made.url.as_deref(),
        Some("https://old-preview-shop.fly.dev")
    );
    assert_eq!(apps_after_restart, ["old-preview-shop"]);
    assert_eq!(woken.state, PreviewState::Running, "{woken:?}");
    assert_eq!(
        woken.url.as_deref(),
        Some("https://old-preview-shop.fly.dev")
    );
    assert_eq!(machines_when_woken.len(), 1, "{machines_when_woken:?}");
    assert_eq!(machines_when_woken[0].state, "started");
    assert!(deleted.is_success(), "{deleted}");
    assert!(apps_after_delete.is_empty(), "{apps_after_delete:?}");
    assert_eq!(
        fresh.url.as_deref(),
        Some("https://new-preview-cart.fly.dev")
    );
    assert_eq!(fly.live_app_names(), ["new-preview-cart"]);
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}
