//! Blob batches: one sorted read of what the app references.

use std::time::Duration;

use futures::StreamExt;

use super::{LIMITS, Store, app, put};
use crate::store::FileChange;

/// `count` files of distinct content for `app`, and their hashes, sorted.
async fn files(store: &dyn Store, app_name: &str, count: usize) -> Vec<String> {
    let changes: Vec<FileChange> = (0..count)
        .map(|number| {
            put(
                &format!("dir/{number}.txt"),
                &format!("{app_name} {number}"),
            )
        })
        .collect();
    store.apply(&app(app_name), &changes, LIMITS).await.unwrap();
    let mut sha256s: Vec<String> = changes
        .into_iter()
        .map(|change| change.content.unwrap().sha256)
        .collect();
    sha256s.sort();
    sha256s
}

pub async fn a_blob_batch_yields_what_the_app_references_in_ascending_order(
    first: &dyn Store,
    second: &dyn Store,
) {
    let held = files(first, "first", 90).await;
    let others = files(first, "second", 1).await;
    let mut asked = held.clone();
    asked.extend(others);
    asked.push("f".repeat(64));
    asked.sort();

    for store in [first, second] {
        let blobs: Vec<_> = store.read_blobs(&app("first"), &asked).collect().await;
        let blobs: Vec<_> = blobs.into_iter().map(Result::unwrap).collect();
        let yielded: Vec<&String> = blobs.iter().map(|blob| &blob.sha256).collect();
        assert_eq!(yielded, held.iter().collect::<Vec<_>>());
        for blob in &blobs {
            assert_eq!(sync_protocol::sha256_hex(&blob.bytes), blob.sha256);
        }
    }
    let none: Vec<_> = first.read_blobs(&app("first"), &[]).collect().await;
    assert!(none.is_empty());
    let stranger: Vec<_> = first.read_blobs(&app("nobody"), &held).collect().await;
    assert!(stranger.is_empty());
}

pub async fn a_blob_reader_that_stops_midway_holds_nothing_back(store: &dyn Store, _: &dyn Store) {
    let held = files(store, "app", 60).await;
    // More abandoned reads than any pool has connections.
    for _ in 0..20 {
        let mut blobs = store.read_blobs(&app("app"), &held);
        blobs.next().await.unwrap().unwrap();
    }
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        store.read_blobs(&app("app"), &held).count(),
    )
    .await
    .expect("a full read after abandoned ones finishes");
    assert_eq!(read, held.len());
}
