//! The SQLite backend against a real database file in a temporary
//! directory: the shared contract, and what only a file shows.

use sync_protocol::{DevServerState, SyncStatusReport};

use super::SqliteStore;
use crate::store::conformance::{LIMITS, app, put};
use crate::store::{FileStore, StoreHealth, SyncTokenStore};

/// One store in a fresh directory, twice: one process holds the file.
async fn handles() -> (tempfile::TempDir, SqliteStore, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (dir, store.clone(), store)
}

crate::store_conformance_tests!(handles().await);

#[tokio::test]
async fn tokens_status_and_files_survive_a_reopen() {
    let (dir, store, _) = handles().await;
    let app_id = app("app");
    store.add_sync_token(&app_id, "digest-one").await.unwrap();
    store.add_sync_token(&app_id, "digest-two").await.unwrap();
    let report = SyncStatusReport {
        revision: 7,
        dev_server: DevServerState::Ready,
        message: None,
        runtime: None,
        visited_secs_ago: None,
        render: None,
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
async fn the_identity_survives_a_reopen_and_a_new_data_dir_makes_another() {
    let (dir, store, _) = handles().await;
    let identity = store.identity().await.unwrap();
    store.close().await;
    let reopened = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(reopened.identity().await.unwrap(), identity);
    let (_other_dir, other, _) = handles().await;
    assert_ne!(other.identity().await.unwrap(), identity);
}
