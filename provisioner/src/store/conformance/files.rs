//! The files half of the contract: revisions, no-ops, refusals, deltas,
//! history, limits and blobs.

use bytes::Bytes;

use super::{LIMITS, Store, app, delete, path, paths_of, put};
use crate::store::{AppLimits, Changes, FileChange, Garbage, StoreError};

pub async fn each_write_is_one_revision_and_a_no_op_keeps_it(store: &dyn Store, _: &dyn Store) {
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

pub async fn a_refused_write_applies_nothing(store: &dyn Store, _: &dyn Store) {
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
    let new = store.read_file(&app_id, &path("new.txt")).await.unwrap();
    assert!(new.is_none());
}

pub async fn deltas_carry_changes_and_deletions_after_since(store: &dyn Store, _: &dyn Store) {
    let app_id = app("app");
    let writes = [
        vec![put("a", "1")],
        vec![put("b", "2")],
        vec![delete("a")],
        vec![put("c", "3"), put("b", "22")],
    ];
    for changes in &writes {
        store.apply(&app_id, changes, LIMITS).await.unwrap();
    }

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

pub async fn writes_through_one_handle_are_revisions_and_deltas_through_the_other(
    first: &dyn Store,
    second: &dyn Store,
) {
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
    let content = first.read_file(&app_id, &path("c")).await.unwrap();
    assert_eq!(content.unwrap().bytes, Bytes::from_static(b"33"));
    // Re-creating a deleted path drops its tombstone.
    first
        .apply(&app_id, &[put("a", "back")], LIMITS)
        .await
        .unwrap(); // 4
    let deleted = paths_of(&second.changes_since(&app_id, 1).await.unwrap()).1;
    assert!(deleted.is_empty());
}

pub async fn since_older_than_the_history_kept_gets_the_full_manifest(
    store: &dyn Store,
    _: &dyn Store,
) {
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

    for since in [1, 2] {
        let answer = store.changes_since(&app_id, since).await.unwrap();
        assert!(matches!(answer, Changes::Full(_)), "since {since}");
    }
    let recent = store.changes_since(&app_id, 3).await.unwrap();
    assert_eq!(paths_of(&recent), (vec!["counter".into()], vec![]));
}

pub async fn limits_count_the_whole_write_and_blobs_stay_with_their_apps(
    first: &dyn Store,
    second: &dyn Store,
) {
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
    // Replacing a file counts its new size only.
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
    assert_eq!(first.revision(&app_id).await.unwrap(), 2);
    let sha256 = sync_protocol::sha256_hex(b"1234567890");
    assert!(first.read_blob(&app_id, &sha256).await.unwrap().is_some());
    assert!(first.read_blob(&other, &sha256).await.unwrap().is_none());
    let sizes = second
        .referenced_blobs(&app_id, std::slice::from_ref(&sha256))
        .await
        .unwrap();
    assert_eq!(sizes, vec![(sha256, 10)]);
}

pub async fn blobs_are_shared_but_read_only_by_apps_that_hold_them(
    store: &dyn Store,
    _: &dyn Store,
) {
    let (first, second) = (app("first"), app("second"));
    let change = put("same.txt", "shared content");
    let sha256 = change.content.clone().unwrap().sha256;
    store
        .apply(&first, std::slice::from_ref(&change), LIMITS)
        .await
        .unwrap();

    assert!(store.read_blob(&first, &sha256).await.unwrap().is_some());
    assert!(store.read_blob(&second, &sha256).await.unwrap().is_none());
    let seen_by_second = store
        .referenced_blobs(&second, std::slice::from_ref(&sha256))
        .await
        .unwrap();
    assert!(seen_by_second.is_empty());

    store.apply(&second, &[change], LIMITS).await.unwrap();
    assert!(store.read_blob(&second, &sha256).await.unwrap().is_some());
    assert_eq!(store.stored_blob_count().await.unwrap(), 1);
}

pub async fn replaced_content_is_collected_once_unreferenced(
    first: &dyn Store,
    second: &dyn Store,
) {
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

    let removed = second.remove_unreferenced_blobs().await.unwrap();

    // "old" went; "shared" is still held by the other app; "new" is current.
    assert_eq!(removed, Garbage { blobs: 1, bytes: 3 });
    assert_eq!(first.stored_blob_count().await.unwrap(), 2);
    let old = sync_protocol::sha256_hex(b"old");
    let shared = sync_protocol::sha256_hex(b"shared");
    let new = sync_protocol::sha256_hex(b"new");
    assert!(first.read_blob(&app_id, &old).await.unwrap().is_none());
    assert!(first.read_blob(&other, &shared).await.unwrap().is_some());
    assert!(first.read_blob(&app_id, &new).await.unwrap().is_some());
    assert_eq!(
        first.remove_unreferenced_blobs().await.unwrap(),
        Garbage::default()
    );
    // Content that was collected is stored again when saved again.
    first
        .apply(&app_id, &[put("a", "old")], LIMITS)
        .await
        .unwrap();
    let content = second.read_file(&app_id, &path("a")).await.unwrap();
    assert_eq!(content.unwrap().bytes, Bytes::from_static(b"old"));
}

pub async fn the_sweep_pages_through_many_blobs_and_removes_only_garbage(
    first: &dyn Store,
    second: &dyn Store,
) {
    // Four apps of 90 files, each rewritten once: 360 blobs live, 360
    // garbage, more than one sweep page of each, interleaved in sha256 order.
    let apps = ["pa", "pb", "pc", "pd"].map(app);
    for app_id in &apps {
        for version in ["one", "two"] {
            let changes: Vec<FileChange> = (0..90)
                .map(|index| put(&format!("f{index}"), &format!("{app_id} {version} {index}")))
                .collect();
            first.apply(app_id, &changes, LIMITS).await.unwrap();
        }
    }
    assert_eq!(first.stored_blob_count().await.unwrap(), 720);

    let removed = second.remove_unreferenced_blobs().await.unwrap();

    assert_eq!(removed.blobs, 360);
    assert_eq!(first.stored_blob_count().await.unwrap(), 360);
    for app_id in &apps {
        let live = sync_protocol::sha256_hex(format!("{app_id} two 89").as_bytes());
        let gone = sync_protocol::sha256_hex(format!("{app_id} one 89").as_bytes());
        assert!(first.read_blob(app_id, &live).await.unwrap().is_some());
        assert!(first.read_blob(app_id, &gone).await.unwrap().is_none());
    }
}
