//! Placing downloads as they arrive, in a cycle no dev server watches yet.
//!
//! The burst exists for a dev server's watcher: it sees one batch of
//! complete files. Before the dev server starts (the first cycle of a
//! process: the supervisor waits for it) and under `--once`, nothing
//! watches, and holding 10,000 renames until the last byte arrived made an
//! initial sync the download *plus* the renames (bench/README.md). Here
//! each downloaded file is renamed into place by the thread that wrote it,
//! right after its sha256 was verified, while later batches still arrive.
//!
//! The invariants stay the burst's: content is staged outside the tree and
//! verified before its rename, parents are checked (never through a
//! symlink) by the same [`burst::place`], the cycle's deletes ran before
//! anything is placed, and every file placed is recorded in the index
//! afterwards, also when the cycle fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::burst::{self, Placed};
use crate::error::Error;
use crate::fsio::CheckedDirs;
use crate::stage::StagedWrite;

/// The writes to place when their content arrives, and what was placed.
#[derive(Debug)]
pub struct Early {
    root: PathBuf,
    /// By staging file: the writes whose content is still on its way.
    expected: Mutex<HashMap<PathBuf, StagedWrite>>,
    placed: Mutex<Placements>,
}

#[derive(Debug, Default)]
struct Placements {
    placed: Vec<Placed>,
    /// The first failure; nothing is placed after it.
    failed: Option<Error>,
}

impl Early {
    pub fn new(root: &Path) -> Early {
        Early {
            root: root.to_path_buf(),
            expected: Mutex::default(),
            placed: Mutex::default(),
        }
    }

    /// Places `write` as soon as its staging file is complete.
    pub fn expect(&self, write: StagedWrite) {
        lock(&self.expected).insert(write.temporary.clone(), write);
    }

    /// The staging file `temporary` holds its verified content: its write,
    /// if one is expected, is placed now. `dirs` belongs to the caller's
    /// thread.
    pub fn arrived(&self, temporary: &Path, dirs: &mut CheckedDirs) {
        let Some(write) = lock(&self.expected).remove(temporary) else {
            return;
        };
        if lock(&self.placed).failed.is_some() {
            return;
        }
        let placed = burst::place(&self.root, write, dirs);
        let mut placements = lock(&self.placed);
        match placed {
            Ok(placed) => placements.placed.push(placed),
            Err(error) => {
                placements.failed.get_or_insert(error);
            }
        }
    }

    /// What was placed, and the first failure. Called once every thread
    /// that may place is done ([`crate::fetch::download`] joins them all).
    pub fn finish(&self) -> (Vec<Placed>, Option<Error>) {
        let placements = std::mem::take(&mut *lock(&self.placed));
        (placements.placed, placements.failed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn staged(root: &Path, staging: &Path, name: &str, content: &str) -> StagedWrite {
        let path = format!("dir/{name}");
        StagedWrite::for_test(root, staging, &path, &format!("{name}.tmp"), content)
    }

    #[test]
    fn an_expected_file_is_placed_when_it_arrives_and_only_then() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let early = Early::new(root.path());
        let first = staged(root.path(), staging.path(), "first.txt", "one");
        let second = staged(root.path(), staging.path(), "second.txt", "two");
        let (first_temporary, second_target) = (first.temporary.clone(), second.target.clone());
        early.expect(first);
        early.expect(second);
        let mut dirs = CheckedDirs::default();

        early.arrived(&first_temporary, &mut dirs);
        early.arrived(&staging.path().join("unexpected.tmp"), &mut dirs);

        assert_eq!(
            fs::read_to_string(root.path().join("dir/first.txt")).unwrap(),
            "one"
        );
        assert!(!second_target.exists(), "not arrived, not placed");
        let (placed, failed) = early.finish();
        assert!(failed.is_none());
        assert!(
            matches!(&placed[..], [Placed::Written { entry, .. }] if entry.path.as_str() == "dir/first.txt")
        );
    }

    #[test]
    fn nothing_is_placed_after_a_failure_and_what_was_placed_is_still_reported() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let early = Early::new(root.path());
        let writes: Vec<StagedWrite> = ["a.txt", "b.txt", "c.txt"]
            .iter()
            .map(|name| staged(root.path(), staging.path(), name, name))
            .collect();
        let temporaries: Vec<PathBuf> = writes.iter().map(|w| w.temporary.clone()).collect();
        for write in writes {
            early.expect(write);
        }
        let mut dirs = CheckedDirs::default();
        // b's staging file vanished: its rename fails.
        fs::remove_file(&temporaries[1]).unwrap();

        for temporary in &temporaries {
            early.arrived(temporary, &mut dirs);
        }

        let (placed, failed) = early.finish();
        assert!(failed.is_some());
        assert_eq!(placed.len(), 1, "a.txt only");
        assert!(root.path().join("dir/a.txt").exists());
        assert!(
            !root.path().join("dir/c.txt").exists(),
            "nothing after the failure"
        );
    }
}
