//! `PostgresStore` itself, through two handles on one fresh database (as two
//! instances hold them): the store semantics the SQLite backend's unit tests
//! pin down, and previews and sync status shared between instances.

use std::time::Duration;

use bytes::Bytes;
use provisioner::lifecycle::clock::{Clock, SystemClock};
use provisioner::lifecycle::model::{PreviewRecord, PreviewState};
use provisioner::store::previews::PreviewStore;
use provisioner::store::{
    AppLimits, Blob, Changes, FileChange, FileStore, PostgresStore, StoreError, SyncTokenStore,
};
use sync_protocol::{AppId, DevServerState, FilePath, SyncStatusReport};

use crate::postgres_support::fresh_database;

const LIMITS: AppLimits = AppLimits {
    max_files_per_app: 100,
    max_bytes_per_app: 1_000_000,
    history_revisions: 1000,
};

async fn two_handles() -> (PostgresStore, PostgresStore) {
    let url = fresh_database().await.unwrap();
    let first = PostgresStore::open(&url).await.unwrap();
    let second = PostgresStore::open(&url).await.unwrap();
    (first, second)
}

fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap()
}

fn put(path: &str, content: &str) -> FileChange {
    let bytes = Bytes::from(content.to_owned());
    FileChange {
        path: FilePath::parse(path).unwrap(),
        content: Some(Blob {
            sha256: sync_protocol::sha256_hex(&bytes),
            bytes,
        }),
    }
}

fn delete(path: &str) -> FileChange {
    FileChange {
        path: FilePath::parse(path).unwrap(),
        content: None,
    }
}

/// The changed and deleted paths of an answer, as text.
fn paths_of(changes: &Changes) -> (Vec<String>, Vec<String>) {
    match changes {
        Changes::Full(manifest) => (
            manifest
                .files
                .iter()
                .map(|file| file.path.to_string())
                .collect(),
            Vec::new(),
        ),
        Changes::Delta { files, deleted, .. } => (
            files.iter().map(|file| file.path.to_string()).collect(),
            deleted.iter().map(ToString::to_string).collect(),
        ),
    }
}

#[tokio::test]
async fn revisions_deltas_and_no_ops_match_the_sqlite_backend() {
    let (first, second) = two_handles().await;
    let app_id = app("app");

    first
        .apply(&app_id, &[put("a", "1"), put("b", "2")], LIMITS)
        .await
        .unwrap(); // 1
    let same = second
        .apply(&app_id, &[put("a", "1")], LIMITS)
        .await
        .unwrap();
    second.apply(&app_id, &[delete("a")], LIMITS).await.unwrap(); // 2
    // One path twice in a batch: the changes run in order.
    let twice = first
        .apply(
            &app_id,
            &[put("c", "3"), put("b", "22"), put("c", "33")],
            LIMITS,
        )
        .await
        .unwrap(); // 3
    let refused = second
        .apply(&app_id, &[put("d", "4"), delete("zz")], LIMITS)
        .await;

    assert_eq!((same.revision, same.changed), (1, 0));
    assert_eq!((twice.revision, twice.changed), (3, 3));
    assert!(
        matches!(refused, Err(StoreError::FileNotFound { index: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(second.revision(&app_id).await.unwrap(), 3);
    let delta = second.changes_since(&app_id, 1).await.unwrap();
    assert!(matches!(delta, Changes::Delta { revision: 3, .. }));
    assert_eq!(
        paths_of(&delta),
        (vec!["b".into(), "c".into()], vec!["a".into()])
    );
    assert!(matches!(
        second.changes_since(&app_id, 9).await.unwrap(),
        Changes::Full(_)
    ));
    let content = first
        .read_file(&app_id, &FilePath::parse("c").unwrap())
        .await
        .unwrap();
    assert_eq!(content.unwrap().bytes, Bytes::from_static(b"33"));
    // Re-creating a deleted path drops its tombstone.
    first
        .apply(&app_id, &[put("a", "back")], LIMITS)
        .await
        .unwrap(); // 4
    assert!(
        paths_of(&second.changes_since(&app_id, 1).await.unwrap())
            .1
            .is_empty()
    );
}

#[tokio::test]
async fn since_older_than_the_history_kept_gets_the_full_manifest() {
    let (store, _) = two_handles().await;
    let app_id = app("app");
    let limits = AppLimits {
        history_revisions: 2,
        ..LIMITS
    };
    store
        .apply(&app_id, &[put("gone", "x")], limits)
        .await
        .unwrap(); // 1
    store
        .apply(&app_id, &[delete("gone")], limits)
        .await
        .unwrap(); // 2
    for revision in 3..=5 {
        let change = put("counter", &revision.to_string());
        store.apply(&app_id, &[change], limits).await.unwrap();
    }

    assert!(matches!(
        store.changes_since(&app_id, 2).await.unwrap(),
        Changes::Full(_)
    ));
    let recent = store.changes_since(&app_id, 3).await.unwrap();
    assert_eq!(paths_of(&recent), (vec!["counter".into()], vec![]));
}

#[tokio::test]
async fn limits_count_the_whole_write_and_blobs_stay_with_their_apps() {
    let (first, second) = two_handles().await;
    let (app_id, other) = (app("app"), app("other"));
    let limits = AppLimits {
        max_files_per_app: 2,
        max_bytes_per_app: 10,
        ..LIMITS
    };
    first
        .apply(&app_id, &[put("a", "12345")], limits)
        .await
        .unwrap();

    let too_many = second
        .apply(&app_id, &[put("b", "1"), put("c", "1")], limits)
        .await;
    let too_big = second.apply(&app_id, &[put("b", "123456")], limits).await;
    let replaced = second
        .apply(&app_id, &[put("a", "1234567890")], limits)
        .await;

    assert!(
        matches!(
            too_many,
            Err(StoreError::TooManyFiles {
                would_hold: 3,
                limit: 2
            })
        ),
        "{too_many:?}"
    );
    assert!(
        matches!(
            too_big,
            Err(StoreError::TooManyBytes {
                would_hold: 11,
                limit: 10
            })
        ),
        "{too_big:?}"
    );
    assert_eq!(replaced.unwrap().revision, 2);
    let sha256 = sync_protocol::sha256_hex(b"1234567890");
    assert!(first.read_blob(&app_id, &sha256).await.unwrap().is_some());
    assert!(first.read_blob(&other, &sha256).await.unwrap().is_none());
    let sizes = second
        .referenced_blobs(&app_id, std::slice::from_ref(&sha256))
        .await
        .unwrap();
    assert_eq!(sizes, vec![(sha256, 10)]);
}

#[tokio::test]
async fn tokens_status_and_previews_written_by_one_instance_are_read_by_the_other() {
    let (first, second) = two_handles().await;
    let app_id = app("shop");
    let now = SystemClock.now().replace_nanosecond(0).unwrap();
    let mut record = PreviewRecord::new(app_id.clone(), &["create_app"], now);
    record
        .driver_data
        .insert("machine_id".to_owned(), "m1".to_owned());
    let report = SyncStatusReport {
        revision: 7,
        dev_server: DevServerState::Ready,
        message: Some("ok".to_owned()),
        runtime: None,
    };

    // Act
    first.add_sync_token(&app_id, "digest-one").await.unwrap();
    first.record_sync_status(&app_id, &report).await.unwrap();
    let inserted = first.insert_preview(&record).await.unwrap();
    let inserted_again = second.insert_preview(&record).await.unwrap();
    record.set_state(PreviewState::Running, now + Duration::from_secs(1));
    second.save_preview(&record).await.unwrap();
    let later = now + Duration::from_secs(30);
    first
        .record_activity(&[(app_id.clone(), later)])
        .await
        .unwrap();
    second
        .record_activity(&[(app_id.clone(), now + Duration::from_secs(10))])
        .await
        .unwrap();

    // Assert
    assert_eq!(
        second.sync_token_digests(&app_id).await.unwrap(),
        ["digest-one"]
    );
    assert!(
        second
            .sync_token_digests(&app("other"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        second.sync_status(&app_id).await.unwrap().unwrap().report,
        report
    );
    assert!(inserted);
    assert!(!inserted_again);
    let stored = second.get_preview(&app_id).await.unwrap().unwrap();
    assert_eq!(stored.last_activity_at, later);
    assert_eq!(
        PreviewRecord {
            last_activity_at: record.last_activity_at,
            ..stored
        },
        record
    );
    let running = first
        .list_previews(Some(PreviewState::Running))
        .await
        .unwrap();
    let stopped = first
        .list_previews(Some(PreviewState::Stopped))
        .await
        .unwrap();
    assert_eq!((running.len(), stopped.len()), (1, 0));
    assert_eq!(first.list_previews(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn replaced_content_is_collected_once_unreferenced() {
    let (first, second) = two_handles().await;
    let (app_id, other) = (app("first"), app("second"));
    first
        .apply(&app_id, &[put("a", "old"), put("b", "shared")], LIMITS)
        .await
        .unwrap();
    second
        .apply(&other, &[put("c", "shared")], LIMITS)
        .await
        .unwrap();
    first
        .apply(&app_id, &[put("a", "new"), delete("b")], LIMITS)
        .await
        .unwrap();

    // Act
    let removed = second.remove_unreferenced_blobs().await.unwrap();

    // Assert: "old" went; "shared" is still held by the other app; "new" is current.
    assert_eq!(removed, 1);
    let old = sync_protocol::sha256_hex(b"old");
    let shared = sync_protocol::sha256_hex(b"shared");
    let new = sync_protocol::sha256_hex(b"new");
    assert!(first.read_blob(&app_id, &old).await.unwrap().is_none());
    assert!(first.read_blob(&other, &shared).await.unwrap().is_some());
    assert!(first.read_blob(&app_id, &new).await.unwrap().is_some());
    assert_eq!(first.remove_unreferenced_blobs().await.unwrap(), 0);
    // Content that was collected is stored again when saved again.
    first
        .apply(&app_id, &[put("a", "old")], LIMITS)
        .await
        .unwrap();
    let content = second
        .read_file(&app_id, &FilePath::parse("a").unwrap())
        .await
        .unwrap();
    assert_eq!(content.unwrap().bytes, Bytes::from_static(b"old"));
}
