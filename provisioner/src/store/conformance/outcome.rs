//! A write's outcome describes its revision exactly as the store's delta
//! does: long-polls are answered from the outcome instead of the store.

use super::{LIMITS, Store, app, delete, put};
use crate::store::{AppLimits, Changes, FileChange};

pub async fn a_writes_outcome_is_the_delta_the_store_gives_from_the_revision_before_it(
    store: &dyn Store,
    other: &dyn Store,
) {
    let app_id = app("app");
    let writes: Vec<Vec<FileChange>> = vec![
        vec![
            put("b/two.txt", "2"),
            put("a.txt", "1"),
            put("b/one.txt", "1"),
        ],
        vec![put("a.txt", "1"), put("c.txt", "3")],
        vec![delete("b/one.txt"), put("a.txt", "one"), put("d.txt", "1")],
        vec![put("e.txt", "5"), put("e.txt", "five"), delete("c.txt")],
        vec![delete("d.txt"), put("d.txt", "back")],
        vec![
            put("B.txt", "upper before lower"),
            put("a-b.txt", "-"),
            put("a/b.txt", "/"),
        ],
    ];
    for (number, changes) in writes.iter().enumerate() {
        let outcome = store.apply(&app_id, changes, LIMITS).await.unwrap();
        let delta = outcome.delta.expect("a write that changed something");
        let before = outcome.revision - 1;
        let expected = Changes::Delta {
            revision: outcome.revision,
            files: delta.files,
            deleted: delta.deleted,
        };
        assert_eq!(
            other.changes_since(&app_id, before).await.unwrap(),
            expected,
            "write {number}"
        );
        assert!(delta.history_floor <= before, "write {number}");
    }
    let same = store.apply(&app_id, &[put("a.txt", "one")], LIMITS).await;
    assert_eq!(same.unwrap().delta, None, "a no-op changes nothing");

    // With one revision of history the floor is the revision before: the
    // outcome says so, and the store still answers that delta.
    let short = AppLimits {
        history_revisions: 1,
        ..LIMITS
    };
    let outcome = store
        .apply(&app_id, &[put("f.txt", "6")], short)
        .await
        .unwrap();
    let floor = outcome.delta.unwrap().history_floor;
    assert_eq!(floor, outcome.revision - 1);
    assert!(matches!(
        other.changes_since(&app_id, floor).await.unwrap(),
        Changes::Delta { .. }
    ));
}
