//! The SQLite backend against a real database file in a temporary directory.

use bytes::Bytes;
use sync_protocol::{AppId, DevServerState, FilePath, SyncStatusReport};

use super::{
    AppLimits, Blob, Changes, FileChange, FileStore, SqliteStore, StoreError, SyncTokenStore,
};

const LIMITS: AppLimits = AppLimits {
    max_files_per_app: 100,
    max_bytes_per_app: 1_000_000,
    history_revisions: 1000,
};

fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap()
}

fn path(text: &str) -> FilePath {
    FilePath::parse(text).unwrap()
}

fn put(text: &str, content: &str) -> FileChange {
    let bytes = Bytes::from(content.to_owned());
    let sha256 = sync_protocol::sha256_hex(&bytes);
    FileChange {
        path: path(text),
        content: Some(Blob { sha256, bytes }),
    }
}

fn delete(text: &str) -> FileChange {
    FileChange {
        path: path(text),
        content: None,
    }
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (dir, store)
}

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
async fn each_write_is_one_revision_and_a_no_op_keeps_it() {
    let (_dir, store) = store().await;
    let app_id = app("app");
    assert_eq!(store.revision(&app_id).await.unwrap(), 0);

    let first = store
        .apply(&app_id, &[put("a.txt", "one"), put("b.txt", "two")], LIMITS)
        .await;
    assert_eq!(first.unwrap().revision, 1);
    let same = store
        .apply(&app_id, &[put("a.txt", "one")], LIMITS)
        .await
        .unwrap();
    assert_eq!((same.revision, same.changed), (1, 0));
    let changed = store
        .apply(&app_id, &[put("a.txt", "uno")], LIMITS)
        .await
        .unwrap();
    assert_eq!((changed.revision, changed.changed), (2, 1));

    let manifest = store.manifest(&app_id).await.unwrap();
    assert_eq!(manifest.revision, 2);
    assert_eq!(manifest.files.len(), 2);
    let blob = store
        .read_file(&app_id, &path("a.txt"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(blob.bytes, Bytes::from_static(b"uno"));
}

#[tokio::test]
async fn a_refused_write_applies_nothing() {
    let (_dir, store) = store().await;
    let app_id = app("app");
    store
        .apply(&app_id, &[put("keep.txt", "x")], LIMITS)
        .await
        .unwrap();

    let refused = store
        .apply(
            &app_id,
            &[put("new.txt", "y"), delete("missing.txt")],
            LIMITS,
        )
        .await;

    assert!(
        matches!(refused, Err(StoreError::FileNotFound { index: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(store.revision(&app_id).await.unwrap(), 1);
    assert!(
        store
            .read_file(&app_id, &path("new.txt"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn deltas_carry_changes_and_deletions_after_since() {
    let (_dir, store) = store().await;
    let app_id = app("app");
    store
        .apply(&app_id, &[put("a", "1")], LIMITS)
        .await
        .unwrap(); // 1
    store
        .apply(&app_id, &[put("b", "2")], LIMITS)
        .await
        .unwrap(); // 2
    store.apply(&app_id, &[delete("a")], LIMITS).await.unwrap(); // 3
    store
        .apply(&app_id, &[put("c", "3"), put("b", "22")], LIMITS)
        .await
        .unwrap(); // 4

    let after_two = store.changes_since(&app_id, 2).await.unwrap();
    assert!(matches!(after_two, Changes::Delta { revision: 4, .. }));
    assert_eq!(
        paths_of(&after_two),
        (vec!["b".into(), "c".into()], vec!["a".into()])
    );
    let after_three = store.changes_since(&app_id, 3).await.unwrap();
    assert_eq!(
        paths_of(&after_three),
        (vec!["b".into(), "c".into()], vec![])
    );
    let current = store.changes_since(&app_id, 4).await.unwrap();
    assert_eq!(
        current,
        Changes::Delta {
            revision: 4,
            files: vec![],
            deleted: vec![]
        }
    );
    // A revision the app never had (a reset store, say) gets everything.
    let unknown = store.changes_since(&app_id, 9).await.unwrap();
    assert!(matches!(unknown, Changes::Full(_)));

    // Re-creating a deleted path drops its tombstone.
    store
        .apply(&app_id, &[put("a", "back")], LIMITS)
        .await
        .unwrap(); // 5
    assert_eq!(
        paths_of(&store.changes_since(&app_id, 2).await.unwrap()).1,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn since_older_than_the_history_kept_gets_the_full_manifest() {
    let (_dir, store) = store().await;
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
        store
            .apply(&app_id, &[put("counter", &revision.to_string())], limits)
            .await
            .unwrap();
    }

    assert!(matches!(
        store.changes_since(&app_id, 1).await.unwrap(),
        Changes::Full(_)
    ));
    assert!(matches!(
        store.changes_since(&app_id, 2).await.unwrap(),
        Changes::Full(_)
    ));
    let recent = store.changes_since(&app_id, 3).await.unwrap();
    assert_eq!(paths_of(&recent), (vec!["counter".into()], vec![]));
}

#[tokio::test]
async fn limits_are_checked_on_the_whole_write() {
    let (_dir, store) = store().await;
    let app_id = app("app");
    let limits = AppLimits {
        max_files_per_app: 2,
        max_bytes_per_app: 10,
        ..LIMITS
    };
    store
        .apply(&app_id, &[put("a", "12345")], limits)
        .await
        .unwrap();

    let too_many = store
        .apply(&app_id, &[put("b", "1"), put("c", "1")], limits)
        .await;
    assert!(matches!(
        too_many,
        Err(StoreError::TooManyFiles {
            would_hold: 3,
            limit: 2
        })
    ));
    let too_big = store.apply(&app_id, &[put("b", "123456")], limits).await;
    assert!(matches!(
        too_big,
        Err(StoreError::TooManyBytes {
            would_hold: 11,
            limit: 10
        })
    ));
    // Replacing a file counts its new size only.
    store
        .apply(&app_id, &[put("a", "1234567890")], limits)
        .await
        .unwrap();
    assert_eq!(store.revision(&app_id).await.unwrap(), 2);
}

#[tokio::test]
async fn blobs_are_shared_but_read_only_by_apps_that_hold_them() {
    let (_dir, store) = store().await;
    let (first, second) = (app("first"), app("second"));
    let change = put("same.txt", "shared content");
    let sha256 = change.content.clone().unwrap().sha256;
    store
        .apply(&first, std::slice::from_ref(&change), LIMITS)
        .await
        .unwrap();

    assert!(store.read_blob(&first, &sha256).await.unwrap().is_some());
    assert!(store.read_blob(&second, &sha256).await.unwrap().is_none());
    assert!(
        store
            .referenced_blobs(&second, std::slice::from_ref(&sha256))
            .await
            .unwrap()
            .is_empty()
    );

    store.apply(&second, &[change], LIMITS).await.unwrap();
    assert!(store.read_blob(&second, &sha256).await.unwrap().is_some());
    let blobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM blobs")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(blobs, 1);
}

#[tokio::test]
async fn tokens_and_status_survive_a_reopen() {
    let (dir, store) = store().await;
    let app_id = app("app");
    store.add_sync_token(&app_id, "digest-one").await.unwrap();
    store.add_sync_token(&app_id, "digest-two").await.unwrap();
    let report = SyncStatusReport {
        revision: 7,
        dev_server: DevServerState::Ready,
        message: None,
        runtime: None,
    };
    store.record_sync_status(&app_id, &report).await.unwrap();
    store
        .apply(&app_id, &[put("kept", "x")], LIMITS)
        .await
        .unwrap();
    store.close().await;

    let store = SqliteStore::open(dir.path()).await.unwrap();
    let mut digests = store.sync_token_digests(&app_id).await.unwrap();
    digests.sort();
    assert_eq!(digests, ["digest-one", "digest-two"]);
    assert!(
        store
            .sync_token_digests(&app("other"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.sync_status(&app_id).await.unwrap().unwrap().report,
        report
    );
    assert_eq!(store.revision(&app_id).await.unwrap(), 1);
}

#[tokio::test]
async fn replaced_content_is_collected_once_unreferenced() {
    let (_dir, store) = store().await;
    let (first, second) = (app("first"), app("second"));
    store
        .apply(&first, &[put("a", "old"), put("b", "shared")], LIMITS)
        .await
        .unwrap();
    store
        .apply(&second, &[put("c", "shared")], LIMITS)
        .await
        .unwrap();
    store
        .apply(&first, &[put("a", "new"), delete("b")], LIMITS)
        .await
        .unwrap();

    let removed = store.remove_unreferenced_blobs().await.unwrap();

    // "old" went; "shared" is still held by the second app; "new" is current.
    assert_eq!(removed, 1);
    let left: Vec<Vec<u8>> = sqlx::query_scalar("SELECT content FROM blobs ORDER BY content")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left, [b"new".to_vec(), b"shared".to_vec()]);
    assert_eq!(store.remove_unreferenced_blobs().await.unwrap(), 0);
}
