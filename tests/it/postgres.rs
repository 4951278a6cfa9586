//! The files API on two provisioner instances sharing one PostgreSQL
//! database (`TEST_DATABASE_URL`; each test makes its own database): what
//! one instance writes the other serves, wakes its long-polls, and counts
//! against the same revisions and limits.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use sync_protocol::{DevServerState, ManifestResponse, SyncStatusReport, WriteResponse};

use crate::files_api::{manifest_of, refusal, written};
use crate::postgres_support::{psql, two_instances};

#[tokio::test]
async fn a_write_on_one_instance_is_served_by_the_other() {
    let (first, second, _) = two_instances(&[]).await.unwrap();

    // Act
    let put = written(first.put_file("app", "src/main.ts", "console.log(1)").await).await;

    // Assert
    let manifest = manifest_of(&second, "app").await;
    assert_eq!(put.revision, 1);
    assert_eq!((manifest.revision, manifest.files.len()), (1, 1));
    let read = second
        .get_file("app", "src/main.ts", second.api_key())
        .await;
    assert_eq!(read.text().await.unwrap(), "console.log(1)");
    let sha256 = sync_protocol::sha256_hex(b"console.log(1)");
    let blob = second.get_blob("app", &sha256, second.api_key()).await;
    assert_eq!(blob.status(), StatusCode::OK);
    // Blobs stay scoped to the apps holding them, whichever instance asks.
    let other_app = second.get_blob("other", &sha256, second.api_key()).await;
    assert_eq!(other_app.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_long_poll_on_one_instance_wakes_on_a_write_to_the_other() {
    let (first, second, _) = two_instances(&[]).await.unwrap();
    written(first.put_file("app", "a.txt", "1").await).await;
    let key = second.api_key().to_owned();
    let poll = second.manifest("app", "since=1&wait=30", None, &key);

    // Act: the write lands while the poll is held on the other instance.
    let (polled, written_at) = tokio::join!(poll, async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let written_at = Instant::now();
        written(first.put_file("app", "b.txt", "2").await).await;
        written_at
    });
    let woke_after = written_at.elapsed();

    // Assert: woken by the notification, before the 3 s periodic re-check
    // (which alone would also wake it) could be relied on.
    assert_eq!(polled.status(), StatusCode::OK);
    let delta: ManifestResponse = polled.json().await.unwrap();
    assert_eq!((delta.revision, delta.full), (2, false));
    assert_eq!(delta.files[0].path.as_str(), "b.txt");
    assert!(
        woke_after < Duration::from_millis(2500),
        "woke {woke_after:?} after the write"
    );
}

#[tokio::test]
async fn a_long_poll_still_wakes_after_its_instance_loses_the_listening_connection() {
    let (first, second, database_url) = two_instances(&[]).await.unwrap();
    written(first.put_file("app", "a.txt", "1").await).await;
    let key = second.api_key().to_owned();

    // Act: cut every instance's listening connection, then write while polling.
    let killed = psql(
        &database_url,
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = '{}'",
            provisioner::store::LISTENER_APPLICATION
        ),
    )
    .await
    .unwrap();
    let poll = second.manifest("app", "since=1&wait=30", None, &key);
    let (polled, written_at) = tokio::join!(poll, async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let written_at = Instant::now();
        written(first.put_file("app", "b.txt", "2").await).await;
        written_at
    });

    // Assert: reconnected (or re-checked) within a few seconds, never lost.
    assert_eq!(killed, "2", "both instances listen");
    assert_eq!(polled.status(), StatusCode::OK);
    let delta: ManifestResponse = polled.json().await.unwrap();
    assert_eq!(delta.revision, 2);
    assert!(written_at.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn a_refused_batch_applies_nothing_on_either_instance() {
    let (first, second, _) = two_instances(&[]).await.unwrap();
    written(first.put_file("app", "keep.txt", "k").await).await;
    let batch = json!({"changes": [
        {"path": "new.txt", "content": "n"},
        {"path": "missing.txt", "delete": true},
    ]});

    // Act
    let refused = second.batch("app", &batch).await;

    // Assert
    let (status, code, _) = refusal(refused).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "file_not_found")
    );
    for instance in [&first, &second] {
        let manifest = manifest_of(instance, "app").await;
        let paths: Vec<&str> = manifest
            .files
            .iter()
            .map(|file| file.path.as_str())
            .collect();
        assert_eq!((manifest.revision, paths), (1, vec!["keep.txt"]));
    }
    let applied = written(
        first
            .batch(
                "app",
                &json!({"changes": [
                    {"path": "new.txt", "content": "n"},
                    {"path": "keep.txt", "delete": true},
                ]}),
            )
            .await,
    )
    .await;
    assert_eq!(
        applied,
        WriteResponse {
            revision: 2,
            changed: 2
        }
    );
}

#[tokio::test]
async fn concurrent_writes_from_both_instances_get_distinct_gap_free_revisions() {
    let (first, second, _) = two_instances(&[]).await.unwrap();
    const PER_INSTANCE: usize = 15;

    let paths: Vec<(String, String)> = (0..PER_INSTANCE)
        .map(|index| (format!("first/{index}.txt"), format!("second/{index}.txt")))
        .collect();

    // Act: both instances write to one app at once, each to its own paths.
    let writes = paths.iter().flat_map(|(mine, theirs)| {
        [
            first.put_file("app", mine, mine.clone()),
            second.put_file("app", theirs, theirs.clone()),
        ]
    });
    let responses = join_all(writes).await;

    // Assert
    let mut revisions = Vec::new();
    for response in responses {
        revisions.push(written(response).await.revision);
    }
    revisions.sort_unstable();
    let expected: Vec<u64> = (1..=2 * PER_INSTANCE as u64).collect();
    assert_eq!(revisions, expected);
    for instance in [&first, &second] {
        let manifest = manifest_of(instance, "app").await;
        assert_eq!(
            (manifest.revision, manifest.files.len()),
            (2 * PER_INSTANCE as u64, 2 * PER_INSTANCE)
        );
    }
}

#[tokio::test]
async fn the_file_limit_holds_across_instances() {
    let (first, second, _) = two_instances(&["--max-files-per-app", "4"]).await.unwrap();

    let paths: Vec<(String, String)> = (0..4)
        .map(|index| (format!("first/{index}"), format!("second/{index}")))
        .collect();

    // Act: eight new files race for four places, half through each instance.
    let writes = paths.iter().flat_map(|(mine, theirs)| {
        [
            first.put_file("app", mine, "x"),
            second.put_file("app", theirs, "y"),
        ]
    });
    let responses = join_all(writes).await;

    // Assert
    let mut accepted = 0;
    for response in responses {
        if response.status() == StatusCode::OK {
            accepted += 1;
        } else {
            let (status, code, _) = refusal(response).await;
            assert!(status.is_client_error(), "{status} {code}");
        }
    }
    assert_eq!(accepted, 4);
    let manifest = manifest_of(&second, "app").await;
    assert_eq!((manifest.revision, manifest.files.len()), (4, 4));
}

#[tokio::test]
async fn a_sync_token_minted_on_one_instance_works_on_the_other() {
    let (first, second, _) = two_instances(&[]).await.unwrap();
    written(first.put_file("app", "a.txt", "a").await).await;
    written(first.put_file("other", "b.txt", "b").await).await;

    // Act
    let token = first.mint_sync_token("app").await.unwrap();
    let read = second.manifest("app", "", None, &token).await;
    let cross = second.manifest("other", "", None, &token).await;
    let report = SyncStatusReport {
        revision: 1,
        dev_server: DevServerState::Ready,
        message: None,
        runtime: None,
        visited_secs_ago: None,
        render: None,
    };
    let reported = second.report_sync_status("app", &token, &report).await;

    // Assert
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(reported.status().is_success(), "{}", reported.status());
}
