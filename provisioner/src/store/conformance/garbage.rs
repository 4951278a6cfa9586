//! The blob sweep's books: garbage counted by the writes that make it, in
//! the store (so it survives restarts and is shared by instances), settled
//! by each sweep.

use super::{LIMITS, Store, app, delete, put};
use crate::store::{BlobGarbage, Garbage};

pub async fn garbage_is_counted_by_writes_and_settled_by_the_sweep(
    first: &dyn Store,
    second: &dyn Store,
) {
    let (app_id, other) = (app("first"), app("second"));
    let books = first.blob_garbage().await.unwrap();
    assert_eq!(
        books,
        BlobGarbage::default(),
        "a new store holds no garbage"
    );
    first
        .apply(&app_id, &[put("a", "12345"), put("b", "xy")], LIMITS)
        .await
        .unwrap();
    second
        .apply(&other, &[put("c", "xy")], LIMITS)
        .await
        .unwrap();

    // Replacing "12345" and deleting "xy" give up 7 bytes in 2 blobs ("xy"
    // only by the count: the other app still holds it).
    let outcome = first
        .apply(&app_id, &[put("a", "1"), delete("b")], LIMITS)
        .await
        .unwrap();
    assert_eq!(outcome.garbage, Garbage { blobs: 2, bytes: 7 });
    let books = second.blob_garbage().await.unwrap();
    assert_eq!(books.pending, Garbage { blobs: 2, bytes: 7 });
    assert_eq!(books.swept, Garbage::default());

    let removed = second.remove_unreferenced_blobs().await.unwrap();

    assert_eq!(removed, Garbage { blobs: 1, bytes: 5 });
    let books = first.blob_garbage().await.unwrap();
    assert_eq!(
        books.pending,
        Garbage::default(),
        "the sweep settled the count"
    );
    assert_eq!(books.swept, Garbage { blobs: 1, bytes: 5 });
    // Garbage made after a sweep waits for the next one; sweeps add up.
    first
        .apply(&app_id, &[put("a", "22")], LIMITS)
        .await
        .unwrap();
    assert_eq!(
        second.blob_garbage().await.unwrap().pending,
        Garbage { blobs: 1, bytes: 1 }
    );
    first.remove_unreferenced_blobs().await.unwrap();
    let books = second.blob_garbage().await.unwrap();
    assert_eq!(books.pending, Garbage::default());
    assert_eq!(books.swept, Garbage { blobs: 2, bytes: 6 });
}
