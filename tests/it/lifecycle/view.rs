//! What `GET /preview`, its event stream and the list show.

use std::time::Duration;

use preview_tests::lifecycle_client::{read_preview, running_preview};
use reqwest::StatusCode;
use sync_protocol::DevServerState;

use super::json;

#[tokio::test]
async fn lifecycle_preview_reports_files_and_applied_revisions_and_streams_events() {
    // Arrange
    let (_fly, provisioner) = running_preview("shop", &[]).await;
    provisioner
        .put_file("shop", "index.html", "<h1>hello</h1>")
        .await;
    let token = provisioner.mint_sync_token("shop").await.unwrap();
    let report = sync_protocol::SyncStatusReport {
        revision: 1,
        dev_server: DevServerState::Ready,
        message: None,
        runtime: None,
        visited_secs_ago: None,
        render: None,
    };
    provisioner
        .report_sync_status("shop", &token, &report)
        .await;

    // Act
    let preview = read_preview(provisioner.get_preview("shop").await).await;
    let mut events = provisioner
        .request(reqwest::Method::GET, "/v1/apps/shop/preview/events")
        .send()
        .await
        .unwrap();
    let first_chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .unwrap()
        .unwrap();
    let bad_filter = provisioner
        .request(reqwest::Method::GET, "/v1/previews?state=sleepy")
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(preview.files_revision, Some(1));
    assert_eq!(preview.applied_revision, Some(1));
    assert_eq!(preview.dev_server, Some(DevServerState::Ready));
    let first_chunk =
        String::from_utf8_lossy(first_chunk.as_deref().unwrap_or_default()).into_owned();
    assert!(first_chunk.contains("event: snapshot"), "{first_chunk}");
    assert!(
        first_chunk.contains("\"state\":\"running\""),
        "{first_chunk}"
    );
    assert_eq!(bad_filter.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        provisioner
            .list_previews(Some("running"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        provisioner
            .list_previews(Some("stopped"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn lifecycle_events_stream_each_state_change() {
    // Arrange
    let (_fly, provisioner) = running_preview("shop", &[]).await;
    let mut events = provisioner
        .request(reqwest::Method::GET, "/v1/apps/shop/preview/events")
        .send()
        .await
        .unwrap();

    // Act: read the snapshot, delete, then read until the change arrives.
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut deleted = false;
    while !received.contains("\"state\":\"deleted\"") && tokio::time::Instant::now() < deadline {
        let chunk = tokio::time::timeout_at(deadline, events.chunk()).await;
        let Ok(Ok(Some(chunk))) = chunk else { break };
        received.push_str(&String::from_utf8_lossy(&chunk));
        if !deleted && received.contains("event: snapshot") {
            deleted = true;
            assert_eq!(
                provisioner.delete_preview("shop").await.status(),
                StatusCode::OK
            );
        }
    }

    // Assert
    assert!(received.starts_with("event: snapshot"), "{received}");
    assert!(received.contains("event: state"), "{received}");
    assert!(received.contains("\"state\":\"deleting\""), "{received}");
    assert!(received.contains("\"state\":\"deleted\""), "{received}");
}

#[tokio::test]
async fn lifecycle_a_wake_that_outlasts_its_timeout_answers_202_and_goes_on() {
    // Arrange: files at revision 1 and no daemon to report applying them.
    let (_fly, provisioner) = running_preview("shop", &[]).await;
    provisioner
        .put_file("shop", "index.html", "<h1>new</h1>")
        .await;

    // Act
    let started = std::time::Instant::now();
    let response = provisioner
        .request(
            reqwest::Method::POST,
            "/v1/apps/shop/wake-preview?timeout=1",
        )
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = json(response).await;

    // Assert: the caller's bound ran out, which is no server error; the
    // preview is answered as it stands, its files not yet applied.
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(body["app_id"], "shop", "{body}");
    assert_eq!(body["files_revision"], 1, "{body}");
    assert!(body["applied_revision"].is_null(), "{body}");
}
