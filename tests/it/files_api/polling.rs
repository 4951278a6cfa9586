//! Manifest polling: ETags and 304s, `since` deltas, and long-polls.

use std::time::{Duration, Instant};

use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use sync_protocol::ManifestResponse;

use super::{refusal, written};

#[tokio::test]
async fn an_unchanged_manifest_answers_304_with_its_etag() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let key = provisioner.api_key();
    written(provisioner.put_file("app", "a.txt", "a").await).await;
    let first = provisioner.manifest("app", "", None, key).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["x-revision"], "1");

    // Act
    let unchanged = provisioner.manifest("app", "", Some(&etag), key).await;
    let since_current = provisioner.manifest("app", "since=1", None, key).await;
    written(provisioner.put_file("app", "a.txt", "changed").await).await;
    let changed = provisioner.manifest("app", "", Some(&etag), key).await;

    // Assert
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(unchanged.headers()["x-revision"], "1");
    assert_eq!(since_current.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn since_returns_only_later_changes() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let key = provisioner.api_key();
    written(provisioner.put_file("app", "keep.txt", "k").await).await; // 1
    written(provisioner.put_file("app", "gone.txt", "g").await).await; // 2
    written(provisioner.put_file("app", "edit.txt", "e").await).await; // 3
    written(provisioner.delete_file("app", "gone.txt").await).await; // 4
    written(provisioner.put_file("app", "edit.txt", "e2").await).await; // 5

    let delta: ManifestResponse = provisioner
        .manifest("app", "since=3", None, key)
        .await
        .json()
        .await
        .unwrap();
    let unknown: ManifestResponse = provisioner
        .manifest("app", "since=99", None, key)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!((delta.revision, delta.full), (5, false));
    let files: Vec<&str> = delta.files.iter().map(|file| file.path.as_str()).collect();
    assert_eq!(files, ["edit.txt"]);
    let deleted: Vec<&str> = delta.deleted.iter().map(|path| path.as_str()).collect();
    assert_eq!(deleted, ["gone.txt"]);
    assert_eq!(
        (unknown.revision, unknown.full, unknown.files.len()),
        (5, true, 2)
    );
}

#[tokio::test]
async fn a_write_wakes_every_long_poll_at_once() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let token = provisioner.mint_sync_token("app").await.unwrap();
    written(provisioner.put_file("app", "a.txt", "1").await).await;

    // Arrange: three daemons waiting on revision 1.
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let request = provisioner.request_as(
            reqwest::Method::GET,
            "/v1/apps/app/files?since=1&wait=30",
            &token,
        );
        waiters.push(tokio::spawn(async move {
            (request.send().await, Instant::now())
        }));
    }
    wait_for_waiters(&provisioner, 3).await;

    // Act
    let written_at = Instant::now();
    written(provisioner.put_file("app", "a.txt", "2").await).await;

    // Assert: each answers promptly with the delta.
    for waiter in waiters {
        let (response, answered_at) = waiter.await.unwrap();
        let response = response.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let lag = answered_at.duration_since(written_at);
        assert!(
            lag < Duration::from_secs(2),
            "answered {lag:?} after the write"
        );
        let delta: ManifestResponse = response.json().await.unwrap();
        assert_eq!(
            (delta.revision, delta.full, delta.files.len()),
            (2, false, 1)
        );
    }
}

#[tokio::test]
async fn a_long_poll_woken_by_a_write_answers_what_asking_afterwards_answers() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let token = provisioner.mint_sync_token("app").await.unwrap();
    written(provisioner.put_file("app", "gone.txt", "g").await).await;
    written(provisioner.put_file("app", "same.txt", "s").await).await; // 2
    let large = "x".repeat(sync_protocol::MAX_INLINE_FILE_BYTES as usize + 1);
    let batch = serde_json::json!({"changes": [
        {"path": "z.txt", "content": "last by path"},
        {"path": "a/b.txt", "content": "twice"},
        {"path": "a-b.txt", "content": "twice"},
        {"path": "same.txt", "content": "s"},
        {"path": "large.txt", "content": large},
        {"path": "gone.txt", "delete": true},
    ]});
    let mut answers = Vec::new();
    for inline in ["", "&inline=true"] {
        let query = format!("/v1/apps/app/files?since=2&wait=30{inline}");
        let request = provisioner.request_as(reqwest::Method::GET, &query, &token);
        answers.push(tokio::spawn(request.send()));
    }
    wait_for_waiters(&provisioner, 2).await;

    // Act: the write wakes both; then the same questions, asked afterwards.
    written(provisioner.batch("app", &batch).await).await; // 3
    let mut afterwards = Vec::new();
    for inline in ["", "&inline=true"] {
        let query = format!("since=2{inline}");
        afterwards.push(provisioner.manifest("app", &query, None, &token).await);
    }

    // Assert: the same bodies and ETags, whether the store or the write answered.
    for (woken, asked) in answers.into_iter().zip(afterwards) {
        let woken = woken.await.unwrap().unwrap();
        assert_eq!(woken.status(), StatusCode::OK);
        assert_eq!(woken.headers()["etag"], asked.headers()["etag"]);
        let woken: ManifestResponse = woken.json().await.unwrap();
        let asked: ManifestResponse = asked.json().await.unwrap();
        assert_eq!(woken, asked);
        let paths: Vec<&str> = woken.files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["a-b.txt", "a/b.txt", "large.txt", "z.txt"]);
        assert_eq!(woken.deleted.len(), 1);
    }
}

#[tokio::test]
async fn a_long_poll_without_change_times_out_to_304() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let key = provisioner.api_key();
    written(provisioner.put_file("app", "a.txt", "1").await).await;

    let started = Instant::now();
    let response = provisioner
        .manifest("app", "since=1&wait=1", None, key)
        .await;
    let waited = started.elapsed();

    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["x-revision"], "1");
    assert!(
        waited >= Duration::from_millis(900),
        "returned after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "returned after {waited:?}");

    let (status, code, _) = refusal(
        provisioner
            .manifest("app", "since=1&wait=61", None, key)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "wait_invalid")
    );
}

#[tokio::test]
async fn sigterm_answers_waiting_long_polls_and_exits_cleanly() {
    let mut provisioner = TestProvisioner::spawn().await.unwrap();
    written(provisioner.put_file("app", "a.txt", "1").await).await;
    let request = provisioner.request(reqwest::Method::GET, "/v1/apps/app/files?since=1&wait=60");
    let waiter = tokio::spawn(request.send());
    wait_for_waiters(&provisioner, 1).await;

    // Act
    let started = Instant::now();
    let status = provisioner
        .terminate(Duration::from_secs(20))
        .await
        .unwrap();

    // Assert: the long-poll did not hold shutdown for its minute.
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let response = waiter.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
}

/// Polls `/metrics` until `count` long-polls wait, so the write lands after they all started.
async fn wait_for_waiters(provisioner: &TestProvisioner, count: usize) {
    let expected = format!("provisioner_long_poll_waiters {count}");
    for _ in 0..200 {
        if provisioner
            .metrics()
            .await
            .text()
            .await
            .unwrap()
            .contains(&expected)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{count} long-polls never started waiting");
}

#[tokio::test]
async fn a_delta_asked_inline_carries_its_small_contents_and_only_then() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let key = provisioner.api_key();
    written(provisioner.put_file("app", "keep.txt", "k").await).await; // 1
    written(provisioner.put_file("app", "small.txt", "saved").await).await; // 2
    let large = "x".repeat(sync_protocol::MAX_INLINE_FILE_BYTES as usize + 1);
    written(provisioner.put_file("app", "large.txt", large).await).await; // 3

    let inline = provisioner
        .manifest("app", "since=1&inline=true", None, key)
        .await;
    let inline_etag = inline.headers()["etag"].to_str().unwrap().to_owned();
    let inline: ManifestResponse = inline.json().await.unwrap();
    let plain = provisioner.manifest("app", "since=1", None, key).await;
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain: ManifestResponse = plain.json().await.unwrap();
    let full: ManifestResponse = provisioner
        .manifest("app", "inline=true", None, key)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(inline.files, plain.files);
    assert_eq!(inline.contents.len(), 1, "only the small file is carried");
    let carried = &inline.contents[0];
    assert_eq!(carried.sha256, sync_protocol::sha256_hex(b"saved"));
    assert_eq!(carried.content_base64, "c2F2ZWQ=");
    assert!(plain.contents.is_empty() && full.contents.is_empty());
    assert_ne!(
        inline_etag, plain_etag,
        "the two bodies differ, so do their ETags"
    );
}
