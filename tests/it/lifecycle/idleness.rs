//! Who owns idleness on Fly: the provisioner. Fly's proxy (emulated, on by
//! default) stops machines without inbound proxied requests unless their
//! service says `autostop: off`, which the provisioner's machines do; the
//! provisioner's idle reaper counts heartbeats and the visits the preview's
//! gateway reports.

use std::time::Duration;

use preview_tests::lifecycle_client::running_preview;
use reqwest::StatusCode;
use sync_protocol::{DevServerState, PreviewState, SyncStatusReport};

#[tokio::test]
async fn lifecycle_a_viewed_preview_is_not_reaped() {
    // Arrange: idle after 2 s (well above the visits' period, so a slow
    // request cannot lapse it); the preview is being looked at through Fly's
    // proxy, and its daemon reports the gateway's visits.
    let args = [
        "--idle-timeout",
        "2s",
        "--loop-interval",
        "200ms",
        "--autostop",
        "stop",
    ];
    let (fly, provisioner) = running_preview("shop", &args).await;
    let token = provisioner.mint_sync_token("shop").await.unwrap();
    let visited = |revision| SyncStatusReport {
        revision,
        dev_server: DevServerState::Ready,
        message: None,
        runtime: None,
        visited_secs_ago: Some(0),
        render: None,
    };

    // Act: one and a half idle timeouts of visits, then none.
    for revision in 0..12 {
        assert!(
            fly.proxy_request("preview-shop"),
            "the proxy found no machine"
        );
        let reported = provisioner
            .report_sync_status("shop", &token, &visited(revision))
            .await;
        assert_eq!(reported.status(), StatusCode::NO_CONTENT);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let while_viewed = provisioner.preview_state("shop").await;
    let machine_while_viewed = fly.live_machines("preview-shop")[0].state;
    provisioner
        .wait_for_state("shop", "stopped", Duration::from_secs(10))
        .await
        .unwrap();

    // Assert
    assert_eq!(while_viewed, Some(PreviewState::Running));
    assert_eq!(machine_while_viewed, "started");
    assert_eq!(fly.live_machines("preview-shop")[0].state, "stopped");
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}
