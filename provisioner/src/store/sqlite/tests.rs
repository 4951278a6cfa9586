//! The SQLite backend against a real database file in a temporary
//! directory: the shared contract, and what only a file shows.

use sync_protocol::{DevServerState, SyncStatusReport};

use super::SqliteStore;
use crate::store::conformance::{LIMITS, app, put};
use crate::store::{AppLimits, FileStore, StoreHealth, SyncTokenStore};

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

/// The database file's size in bytes.
fn file_size(dir: &tempfile::TempDir) -> u64 {
    std::fs::metadata(dir.path().join(super::DATABASE_FILE))
        .unwrap()
        .len()
}

/// Copies the whole log into the file: a checkpoint that meets the store's
/// own (running in the background) answers busy, and is asked again.
async fn checkpoint_fully(store: &SqliteStore) {
    for _ in 0..100 {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(store.pool())
            .await
            .unwrap();
        if busy == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the log could not be checkpointed in 2 s");
}

#[tokio::test]
async fn the_sweep_gives_the_space_of_removed_blobs_back_to_the_file_system() {
    let (dir, store, _) = handles().await;
    let app_id = app("big");
    let limits = AppLimits {
        max_bytes_per_app: u64::MAX,
        ..LIMITS
    };
    // 8 MiB of content, then all of it replaced by one small file each.
    for round in ["one", "two"] {
        let changes: Vec<_> = (0..32)
            .map(|index| {
                let content = format!("{round} {index} ").repeat(256 * 1024 / 8);
                put(&format!("f{index}"), &content)
            })
            .collect();
        store.apply(&app_id, &changes, limits).await.unwrap();
    }
    let small: Vec<_> = (0..32)
        .map(|index| put(&format!("f{index}"), "small"))
        .collect();
    store.apply(&app_id, &small, LIMITS).await.unwrap();
    checkpoint_fully(&store).await;
    let before = file_size(&dir);

    let removed = store.remove_unreferenced_blobs().await.unwrap();
    checkpoint_fully(&store).await;

    assert_eq!(removed.blobs, 64);
    let after = file_size(&dir);
    assert!(before > 12 * 1024 * 1024, "before: {before} bytes");
    assert!(after < 1024 * 1024, "{before} bytes before, {after} after");
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(free, 0);
}

#[tokio::test]
async fn a_database_made_without_incremental_vacuum_is_converted_once_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(super::DATABASE_FILE);
    // A database as an older build made it: auto_vacuum NONE, a table inside.
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let old = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE older (x INTEGER)")
        .execute(&old)
        .await
        .unwrap();
    old.close().await;

    let store = SqliteStore::open(dir.path()).await.unwrap();

    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, 2, "INCREMENTAL");
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM older")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(kept, 0);
}

#[tokio::test]
async fn writes_waiting_for_the_write_lock_take_it_in_the_order_they_asked() {
    let (_dir, store, _) = handles().await;
    let finished = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = store.begin_write().await.unwrap();
    let mut writes = Vec::new();
    for index in 0..6 {
        let (store, finished) = (store.clone(), finished.clone());
        writes.push(tokio::spawn(async move {
            store
                .apply(&app(&format!("app{index}")), &[put("a", "x")], LIMITS)
                .await
                .unwrap();
            finished.lock().unwrap().push(index);
        }));
        // Each asks after the one before is waiting.
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    holder.commit().await.unwrap();
    for write in writes {
        write.await.unwrap();
    }
    assert_eq!(*finished.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn garbage_stored_before_writes_named_it_is_named_once_by_the_migration() {
    let (dir, store, _) = handles().await;
    let app_id = app("app");
    store
        .apply(&app_id, &[put("a", "old"), put("b", "kept")], LIMITS)
        .await
        .unwrap();
    store
        .apply(&app_id, &[put("a", "new")], LIMITS)
        .await
        .unwrap();
    // The database as it was before migration 0014: garbage, unnamed.
    for statement in [
        "DROP TABLE blob_candidates",
        "DELETE FROM _sqlx_migrations WHERE version = 14",
    ] {
        sqlx::query(statement).execute(store.pool()).await.unwrap();
    }
    store.close().await;

    let store = SqliteStore::open(dir.path()).await.unwrap();
    let removed = store.remove_unreferenced_blobs().await.unwrap();

    assert_eq!(removed.blobs, 1, "the old content of `a`");
    assert_eq!(store.stored_blob_count().await.unwrap(), 2);
}

#[tokio::test]
async fn written_content_reaches_the_database_file_before_the_log_reaches_its_limit() {
    let (dir, store, _) = handles().await;
    let limits = AppLimits {
        max_bytes_per_app: u64::MAX,
        ..LIMITS
    };
    let changes: Vec<_> = (0..16)
        .map(|index| {
            put(
                &format!("f{index}"),
                &format!("{index} ").repeat(256 * 1024 / 2),
            )
        })
        .collect();
    store.apply(&app("big"), &changes, limits).await.unwrap();

    // 4 MiB is below the write connection's limit: the store's own task copies it.
    let mut size = file_size(&dir);
    for _ in 0..40 {
        if size > 4 * 1024 * 1024 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        size = file_size(&dir);
    }
    assert!(
        size > 4 * 1024 * 1024,
        "the database file holds {size} bytes"
    );
}

#[tokio::test]
async fn a_write_after_a_sweep_is_fsynced() {
    let (_dir, store, _) = handles().await;
    let app_id = app("app");
    store
        .apply(&app_id, &[put("a", "old")], LIMITS)
        .await
        .unwrap();
    store
        .apply(&app_id, &[put("a", "new")], LIMITS)
        .await
        .unwrap();
    assert_eq!(store.remove_unreferenced_blobs().await.unwrap().blobs, 1);

    let mut write = store.begin_write().await.unwrap();
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *write)
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
}

#[tokio::test]
async fn background_work_takes_the_write_connection_only_after_the_writes_waiting_for_it() {
    let (_dir, store, _) = handles().await;
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let holder = store.begin_write().await.unwrap();
    let background = {
        let (store, order) = (store.clone(), order.clone());
        tokio::spawn(async move {
            let turn = store.writer().when_idle().await.unwrap();
            order.lock().unwrap().push("background");
            drop(turn);
        })
    };
    // The background asked first; the write asks after it is waiting.
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let write = {
        let (store, order) = (store.clone(), order.clone());
        tokio::spawn(async move {
            store
                .apply(&app("app"), &[put("a", "x")], LIMITS)
                .await
                .unwrap();
            order.lock().unwrap().push("write");
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    holder.commit().await.unwrap();
    write.await.unwrap();
    background.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["write", "background"]);
}

/// The log file's size in bytes.
fn log_size(dir: &tempfile::TempDir) -> u64 {
    let log = format!("{}-wal", super::DATABASE_FILE);
    std::fs::metadata(dir.path().join(log)).unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_starts_over_under_a_stream_of_writes_long_before_the_write_connections_own_checkpoint()
 {
    let (dir, store, _) = handles().await;
    let limits = AppLimits {
        max_bytes_per_app: u64::MAX,
        ..LIMITS
    };
    // 64 MiB in writes of 256 KiB with a millisecond between them: a
    // passive checkpoint seldom ends between two, so without the task's
    // turn the log would grow to the write connection's own limit (64 MiB).
    for index in 0..256 {
        let content = format!("{index} ").repeat(256 * 1024 / 2)[..256 * 1024].to_owned();
        store
            .apply(
                &app("big"),
                &[put(&format!("f{}", index % 8), &content)],
                limits,
            )
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let log = log_size(&dir);
    assert!(
        log < 48 * 1024 * 1024,
        "the log grew to {log} bytes; it starts over past 16 MiB"
    );
}
