//! Placing downloads as they arrive, in a cycle no dev server watches yet.
//!
//! The burst exists for a dev server's watcher: it sees one batch of
//! complete files. Before the dev server starts (the first cycle of a
//! process: the supervisor waits for it) and under `--once`, nothing
//! watches, and holding 10,000 renames until the last byte arrived made an
//! initial sync the download *plus* the renames (bench/README.md). Here
//! each downloaded file is renamed into place by the thread that wrote it,
//! right after its sha256 was verified, while later batches still arrive;
//! a file whose directory the tree does not have yet is staged in a
//! [`Graft`] instead, moved in with its whole directory at the end.
//!
//! The invariants stay the burst's: content is staged outside the tree and
//! verified before its rename, parents are checked (never through a
//! symlink) by the same [`burst::place`], the cycle's deletes ran before
//! anything is placed, and every file placed is recorded in the index
//! afterwards, also when the cycle fails.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sync_protocol::FilePath;

use crate::burst::{self, Placed};
use crate::error::{Error, io_error};
use crate::fsio::{CheckedDirs, Stamp};
use crate::graft::{Graft, Grafted};
use crate::stage::StagedWrite;

/// The writes to place when their content arrives, and what was placed.
#[derive(Debug)]
pub struct Early {
    root: PathBuf,
    graft: Option<Mutex<Graft>>,
    /// By staging file: the writes whose content is still on its way, with
    /// their graft root when they are staged in the graft.
    expected: Mutex<HashMap<PathBuf, (StagedWrite, Option<usize>)>>,
    placed: Mutex<Placements>,
}

#[derive(Debug, Default)]
struct Placements {
    placed: Vec<Placed>,
    /// Verified, waiting in the graft for its move into the tree.
    grafted: Vec<Grafted>,
    /// The first failure; nothing is placed after it.
    failed: Option<Error>,
}

impl Early {
    /// Places into the tree at `root`; with `graft`, a file whose
    /// directory is missing from the tree is staged there (see
    /// [`Early::graft_staging_path`]).
    pub fn new(root: &Path, graft: Option<Graft>) -> Early {
        Early {
            root: root.to_path_buf(),
            graft: graft.map(Mutex::new),
            expected: Mutex::default(),
            placed: Mutex::default(),
        }
    }

    /// Where to stage `path` in the graft, with its graft root, when a
    /// directory on its way is missing from the tree (see [`Graft`]).
    pub fn graft_staging_path(&self, path: &FilePath) -> Result<Option<(PathBuf, usize)>, Error> {
        match &self.graft {
            Some(graft) => lock(graft).staging_path(path),
            None => Ok(None),
        }
    }

    /// Places `write` as soon as its staging file is complete; with a
    /// graft root, `write` is staged in the graft ([`Early::graft_staging_path`]).
    pub fn expect(&self, write: StagedWrite, graft_root: Option<usize>) {
        lock(&self.expected).insert(write.temporary.clone(), (write, graft_root));
    }

    /// `write`, staged in the graft below `graft_root`, holds its verified
    /// content already (copied from the tree).
    pub fn ready(&self, write: StagedWrite, graft_root: usize) {
        let metadata = fs::symlink_metadata(&write.temporary);
        self.keep_for_graft(write, graft_root, metadata);
    }

    /// The staging file `temporary`, still open as `file`, holds its
    /// verified content: its write, if one is expected, is placed now (or
    /// kept for the graft). `dirs` belongs to the caller's thread.
    pub fn arrived(&self, temporary: &Path, file: &fs::File, dirs: &mut CheckedDirs) {
        let Some((write, graft_root)) = lock(&self.expected).remove(temporary) else {
            return;
        };
        if lock(&self.placed).failed.is_some() {
            return;
        }
        if let Some(graft_root) = graft_root {
            // Its stamp from the open file: no path to walk.
            self.keep_for_graft(write, graft_root, file.metadata());
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

    fn keep_for_graft(
        &self,
        write: StagedWrite,
        root: usize,
        metadata: std::io::Result<fs::Metadata>,
    ) {
        let stamp = metadata
            .map(|metadata| Stamp::of(&metadata))
            .map_err(|e| io_error(&write.temporary, e));
        let mut placements = lock(&self.placed);
        match stamp {
            Ok(stamp) => placements.grafted.push(Grafted { write, stamp, root }),
            Err(error) => {
                placements.failed.get_or_insert(error);
            }
        }
    }

    /// Moves the graft in, then returns what was placed and the first
    /// failure. Called once every thread that may place is done
    /// ([`crate::fetch::download`] joins them all). A graft's file whose
    /// content never arrived whole is removed first, so only verified files
    /// are moved in, also when the cycle failed.
    pub fn finish(&self) -> (Vec<Placed>, Option<Error>) {
        let mut placements = std::mem::take(&mut *lock(&self.placed));
        let Some(graft) = &self.graft else {
            return (placements.placed, placements.failed);
        };
        for (temporary, (_, graft_root)) in lock(&self.expected).drain() {
            if graft_root.is_some() {
                let _ = fs::remove_file(temporary);
            }
        }
        let (grafted, failed) = lock(graft).move_in(placements.grafted);
        placements.placed.extend(grafted);
        (placements.placed, placements.failed.or(failed))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// The staging file as its writer still holds it.
    fn opened(temporary: &Path) -> fs::File {
        fs::File::open(temporary).unwrap()
    }

    fn staged(root: &Path, staging: &Path, name: &str, content: &str) -> StagedWrite {
        let path = format!("dir/{name}");
        StagedWrite::for_test(root, staging, &path, &format!("{name}.tmp"), content)
    }

    #[test]
    fn an_expected_file_is_placed_when_it_arrives_and_only_then() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let early = Early::new(root.path(), None);
        let first = staged(root.path(), staging.path(), "first.txt", "one");
        let second = staged(root.path(), staging.path(), "second.txt", "two");
        let (first_temporary, second_target) = (first.temporary.clone(), second.target.clone());
        early.expect(first, None);
        early.expect(second, None);
        let mut dirs = CheckedDirs::default();

        early.arrived(&first_temporary, &opened(&first_temporary), &mut dirs);
        let unexpected = staging.path().join("unexpected.tmp");
        fs::write(&unexpected, "x").unwrap();
        early.arrived(&unexpected, &opened(&unexpected), &mut dirs);

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
        let early = Early::new(root.path(), None);
        let writes: Vec<StagedWrite> = ["a.txt", "b.txt", "c.txt"]
            .iter()
            .map(|name| staged(root.path(), staging.path(), name, name))
            .collect();
        let temporaries: Vec<PathBuf> = writes.iter().map(|w| w.temporary.clone()).collect();
        let files: Vec<fs::File> = temporaries.iter().map(|t| opened(t)).collect();
        for write in writes {
            early.expect(write, None);
        }
        let mut dirs = CheckedDirs::default();
        // b's staging file vanished: its rename fails.
        fs::remove_file(&temporaries[1]).unwrap();

        for (temporary, file) in temporaries.iter().zip(&files) {
            early.arrived(temporary, file, &mut dirs);
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

    #[test]
    fn a_graft_moves_in_what_arrived_verified_and_drops_what_did_not() {
        let root = tempfile::tempdir().unwrap();
        let staging = tempfile::tempdir().unwrap();
        let graft_dir = staging.path().join("graft-1");
        let early = Early::new(
            root.path(),
            Some(Graft::new(root.path(), graft_dir.clone())),
        );
        let mut temporaries = Vec::new();
        for (name, content) in [("whole.txt", "whole"), ("partial.txt", "par")] {
            let path = FilePath::parse(&format!("new/{name}")).unwrap();
            let (temporary, graft_root) = early.graft_staging_path(&path).unwrap().unwrap();
            assert!(temporary.starts_with(&graft_dir), "staged outside the tree");
            fs::create_dir_all(temporary.parent().unwrap()).unwrap();
            fs::write(&temporary, content).unwrap();
            let write = StagedWrite {
                target: root.path().join(path.as_str()),
                entry: sync_protocol::FileEntry {
                    path,
                    sha256: sync_protocol::sha256_hex(content.as_bytes()),
                    size: content.len() as u64,
                },
                temporary: temporary.clone(),
            };
            early.expect(write, Some(graft_root));
            temporaries.push(temporary);
        }
        let mut dirs = CheckedDirs::default();

        early.arrived(&temporaries[0], &opened(&temporaries[0]), &mut dirs);
        assert!(
            !root.path().join("new").exists(),
            "nothing is in the tree before the graft moves in"
        );
        let (placed, failed) = early.finish();

        assert!(failed.is_none(), "{failed:?}");
        assert!(
            matches!(&placed[..], [Placed::Written { entry, .. }] if entry.path.as_str() == "new/whole.txt")
        );
        assert_eq!(
            fs::read_to_string(root.path().join("new/whole.txt")).unwrap(),
            "whole"
        );
        assert!(
            !root.path().join("new/partial.txt").exists(),
            "never arrived whole"
        );
        assert!(!graft_dir.exists());
    }
}
