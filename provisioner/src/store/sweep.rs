//! The blob sweep's arithmetic, apart from the SQL that runs it.
//!
//! A sweep pages through the blobs the writes gave up before it began (each
//! write names the content it replaced or deleted in `blob_candidates`), each
//! page one short write, so writes to other apps wait at most one page
//! (SQLite has one write lock for the whole file), and its work follows the
//! garbage made, not the number of blobs stored: under heavy churn of a large
//! app it still finishes. A page ends at a number of blobs or of
//! bytes, whichever comes first: deleting a blob frees its content's pages,
//! so a page of large blobs costs more than one of small ones. After the
//! sweep, SQLite gives the freed pages back to the file system a few at a
//! time (`PRAGMA incremental_vacuum(N)`), each step a short write too.

use std::time::Duration;

use super::Garbage;

/// Candidates looked at by the first page; later pages follow
/// [`next_page_blobs`].
pub(crate) const FIRST_PAGE_BLOBS: i64 = 64;

/// The write lock a page should hold: writes queued behind it wait this long.
const PAGE_HOLD_GOAL: Duration = Duration::from_millis(20);

/// Candidates per page at least and at most.
const PAGE_BLOBS_RANGE: (i64, i64) = (8, 1024);

/// Content freed per page at most (a page holds at least one blob).
pub(crate) const PAGE_BYTES: u64 = 8 * 1024 * 1024;

/// Database pages given back to the file system per step of SQLite's
/// incremental vacuum: 256 pages of 4 KiB, 1 MiB moved at most per step.
pub(crate) const VACUUM_STEP_PAGES: i64 = 256;

/// Steps of the incremental vacuum per sweep at most: the rest waits for
/// the next sweep, so one sweep always ends.
pub(crate) const VACUUM_MAX_STEPS: u32 = 4096;

/// How many of a page's blobs (with these sizes, in order) one write sweeps:
/// up to [`PAGE_BYTES`] of content, and always at least one blob.
pub(crate) fn page_len(sizes: &[u64], max_bytes: u64) -> usize {
    let mut total = 0u64;
    for (index, size) in sizes.iter().enumerate() {
        total = total.saturating_add(*size);
        if total > max_bytes && index > 0 {
            return index;
        }
    }
    sizes.len()
}

/// How many candidates the next page looks at, from how long the last page
/// of `current` held the write lock: the disk and the load decide what a
/// page costs, so a page grows while it is well under
/// [`PAGE_HOLD_GOAL`] and shrinks while it is over.
pub(crate) fn next_page_blobs(current: i64, held: Duration) -> i64 {
    let next = if held < PAGE_HOLD_GOAL / 2 {
        current.saturating_mul(2)
    } else if held > PAGE_HOLD_GOAL + PAGE_HOLD_GOAL / 2 {
        current / 2
    } else {
        current
    };
    next.clamp(PAGE_BLOBS_RANGE.0, PAGE_BLOBS_RANGE.1)
}

/// The garbage made since the last sweep began: what the apps' rows have
/// counted in all minus what was counted then. Never below zero (an app
/// row removed takes its count with it).
pub(crate) fn pending(counted_by_apps: (i64, i64), counted_at_sweep: (i64, i64)) -> Garbage {
    let difference = |now: i64, then: i64| u64::try_from(now.saturating_sub(then)).unwrap_or(0);
    Garbage {
        bytes: difference(counted_by_apps.0, counted_at_sweep.0),
        blobs: difference(counted_by_apps.1, counted_at_sweep.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_ends_at_its_byte_budget_but_always_holds_one_blob() {
        let cases: [(&str, &[u64], u64, usize); 6] = [
            ("no blobs", &[], 10, 0),
            ("small blobs all fit", &[1, 2, 3], 10, 3),
            ("exactly the budget fits", &[5, 5], 10, 2),
            (
                "the blob that goes over starts the next page",
                &[4, 4, 4],
                10,
                2,
            ),
            ("one blob over the budget is a page alone", &[50, 1], 10, 1),
            ("a large blob after small ones waits", &[1, 50], 10, 1),
        ];
        for (rule, sizes, budget, expected) in cases {
            assert_eq!(page_len(sizes, budget), expected, "{rule}");
        }
    }

    #[test]
    fn a_page_grows_while_it_holds_the_lock_briefly_and_shrinks_while_it_holds_it_long() {
        let ms = Duration::from_millis;
        let cases = [
            ("a quick page doubles", 64, ms(3), 128),
            ("a page near the goal stays", 64, ms(20), 64),
            ("a slow page halves", 64, ms(80), 32),
            ("never above the most", 1024, ms(1), 1024),
            ("never below the least", 8, ms(500), 8),
        ];
        for (rule, current, held, next) in cases {
            assert_eq!(next_page_blobs(current, held), next, "{rule}");
        }
    }

    #[test]
    fn pending_garbage_is_what_the_apps_counted_since_the_sweep_began() {
        let cases = [
            ("nothing since", (100, 4), (100, 4), 0, 0),
            ("made since", (150, 6), (100, 4), 50, 2),
            ("garbage stored before counting", (0, 0), (-70, -3), 70, 3),
            ("an app row gone with its count", (10, 1), (100, 4), 0, 0),
        ];
        for (rule, apps, swept, bytes, blobs) in cases {
            assert_eq!(pending(apps, swept), Garbage { bytes, blobs }, "{rule}");
        }
    }
}
