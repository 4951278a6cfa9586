//! The burst: a cycle's deletes, then its renames from staging into the
//! tree, in one tight run, so a dev server's watcher sees one batch of
//! complete files. (A cycle no dev server watches yet places its downloads
//! as they arrive instead: [`crate::early`].)
//!
//! A large burst (an initial sync's 10,000 renames) is spread over a few
//! threads, each renaming a contiguous run of the sorted writes with its
//! own set of checked directories: one thread after another, the renames
//! took longer than the whole of tar's copy of the same tree
//! (bench/README.md). What each thread placed is recorded in the index
//! afterwards, on the caller's thread, in the writes' order, and recorded
//! even when another thread failed, so the index always knows every file
//! the daemon put in the tree (the deletes of later cycles rely on it).

use std::fs;
use std::path::{Path, PathBuf};

use sync_protocol::{FileEntry, FilePath};

use crate::error::{Error, RuntimeError, io_error};
use crate::fsio::{self, CheckedDirs, Refused, Stamp};
use crate::index::Index;
use crate::stage::StagedWrite;

/// Writes below this many are renamed on the caller's thread alone.
const PARALLEL_FROM_WRITES: usize = 512;

/// Threads a large burst is spread over at most.
const MAX_THREADS: usize = 4;

/// What became of one staged write.
#[derive(Debug)]
pub enum Placed {
    Written {
        entry: FileEntry,
        stamp: Stamp,
    },
    Refused {
        path: FilePath,
        reason: String,
        temporary: PathBuf,
    },
}

/// Renames every staged write into place, after the cycle's deletes
/// ([`delete_all`]); refusals go to `refuse`. `placed_before` holds what was
/// placed already (as content arrived, see [`crate::early`]): it is recorded
/// with the rest, also when a rename fails. Returns the staging files left
/// behind by refused writes.
pub fn burst(
    root: &Path,
    index: &mut Index,
    writes: Vec<StagedWrite>,
    written: &mut Vec<FilePath>,
    refuse: &mut dyn FnMut(&FilePath, &str),
    placed_before: Vec<Placed>,
) -> Result<Vec<PathBuf>, Error> {
    // The deletes may have removed directories: each run checks parents afresh.
    let (placed, failed) = place_all(root, writes);
    let mut leftovers = record(index, placed_before, written, refuse);
    leftovers.extend(record(index, placed, written, refuse));
    match failed {
        Some(error) => Err(error),
        None => Ok(leftovers),
    }
}

/// Deletes the files the cycle drops, and forgets them.
pub fn delete_all(
    root: &Path,
    index: &mut Index,
    deletes: Vec<FilePath>,
    deleted: &mut Vec<FilePath>,
) -> Result<(), Error> {
    for path in deletes {
        let target = root.join(path.as_str());
        match fs::symlink_metadata(&target) {
            Ok(metadata) if metadata.is_dir() => {
                tracing::warn!(%path, "a directory replaced a synced file; leaving it");
            }
            Ok(_) => {
                fs::remove_file(&target).map_err(|e| io_error(&target, e))?;
                fsio::remove_empty_parents(root, &target);
                deleted.push(path.clone());
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(&target, error)),
        }
        index.forget(&path);
    }
    Ok(())
}

/// Records what was placed in the index, in order, and passes refusals to
/// `refuse`; returns the staging files the refused writes left.
pub fn record(
    index: &mut Index,
    placed: Vec<Placed>,
    written: &mut Vec<FilePath>,
    refuse: &mut dyn FnMut(&FilePath, &str),
) -> Vec<PathBuf> {
    let mut leftovers = Vec::new();
    for outcome in placed {
        match outcome {
            Placed::Written { entry, stamp } => {
                index.record(entry.path.clone(), entry.sha256, stamp);
                written.push(entry.path);
            }
            Placed::Refused {
                path,
                reason,
                temporary,
            } => {
                refuse(&path, &reason);
                leftovers.push(temporary);
            }
        }
    }
    leftovers
}

/// Places every write, over several threads when there are many; returns
/// what was placed, in the writes' order, and the first failure.
fn place_all(root: &Path, writes: Vec<StagedWrite>) -> (Vec<Placed>, Option<Error>) {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS);
    if writes.len() < PARALLEL_FROM_WRITES || threads < 2 {
        return place_run(root, writes);
    }
    let run_length = writes.len().div_ceil(threads);
    let mut runs: Vec<Vec<StagedWrite>> = Vec::new();
    let mut rest = writes.into_iter();
    loop {
        let run: Vec<StagedWrite> = rest.by_ref().take(run_length).collect();
        if run.is_empty() {
            break;
        }
        runs.push(run);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|run| scope.spawn(move || place_run(root, run)))
            .collect();
        let mut placed = Vec::new();
        let mut failed = None;
        for handle in handles {
            let (run_placed, run_failed) = match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            placed.extend(run_placed);
            failed = failed.or(run_failed);
        }
        (placed, failed)
    })
}

/// Places a run of writes one after another, stopping at the first failure.
fn place_run(root: &Path, writes: Vec<StagedWrite>) -> (Vec<Placed>, Option<Error>) {
    let mut dirs = CheckedDirs::default();
    let mut placed = Vec::with_capacity(writes.len());
    for write in writes {
        match place(root, write, &mut dirs) {
            Ok(outcome) => placed.push(outcome),
            Err(error) => return (placed, Some(error)),
        }
    }
    (placed, None)
}

/// Renames one staged write into place, making its parents first.
pub fn place(root: &Path, write: StagedWrite, dirs: &mut CheckedDirs) -> Result<Placed, Error> {
    let path = &write.entry.path;
    if let Err(refused) = fsio::create_parents(root, path, dirs) {
        return Ok(Placed::Refused {
            path: path.clone(),
            reason: refused.to_string(),
            temporary: write.temporary,
        });
    }
    if let Err(error) = fs::rename(&write.temporary, &write.target) {
        // EISDIR / ENOTEMPTY: a directory the user made holds the path.
        if write.target.is_dir() {
            let refused = Refused::DirectoryInTheWay(write.target.clone());
            return Ok(Placed::Refused {
                path: path.clone(),
                reason: refused.to_string(),
                temporary: write.temporary,
            });
        }
        return Err(io_error(&write.target, error));
    }
    let metadata =
        fs::symlink_metadata(&write.target).map_err(|e| RuntimeError::io(&write.target, e))?;
    Ok(Placed::Written {
        stamp: Stamp::of(&metadata),
        entry: write.entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` staged writes of `d<n>/f<n>.txt`, sorted by path, their
    /// contents in `staging`.
    fn staged(root: &Path, staging: &Path, count: usize) -> Vec<StagedWrite> {
        let mut writes: Vec<StagedWrite> = (0..count)
            .map(|n| {
                let path = format!("d{:02}/f{n:05}.txt", n % 40);
                let content = format!("file {n}\n");
                StagedWrite::for_test(root, staging, &path, &format!("t{n}"), &content)
            })
            .collect();
        writes.sort_by(|a, b| a.entry.path.as_str().cmp(b.entry.path.as_str()));
        writes
    }

    /// Dirs of one burst: the tree, staging and the daemon's state.
    struct Dirs {
        root: tempfile::TempDir,
        staging: tempfile::TempDir,
        state: tempfile::TempDir,
    }

    impl Dirs {
        fn new() -> Dirs {
            Dirs {
                root: tempfile::tempdir().unwrap(),
                staging: tempfile::tempdir().unwrap(),
                state: tempfile::tempdir().unwrap(),
            }
        }

        /// Runs the burst of `writes` (no deletes, no refusal expected);
        /// answers its result and the paths it reported written.
        fn burst(
            &self,
            index: &mut Index,
            writes: Vec<StagedWrite>,
        ) -> (Result<Vec<PathBuf>, Error>, Vec<FilePath>) {
            let mut written = Vec::new();
            let result = burst(
                self.root.path(),
                index,
                writes,
                &mut written,
                &mut |path, reason| panic!("{path} refused: {reason}"),
                Vec::new(),
            );
            (result, written)
        }
    }

    #[test]
    fn a_large_burst_places_every_file_and_records_each_in_the_index_in_order() {
        let dirs = Dirs::new();
        let mut index = Index::load(dirs.state.path()).unwrap();
        let writes = staged(dirs.root.path(), dirs.staging.path(), 2_000);
        let expected: Vec<FilePath> = writes
            .iter()
            .map(|write| write.entry.path.clone())
            .collect();

        let (leftovers, written) = dirs.burst(&mut index, writes);

        assert!(leftovers.unwrap().is_empty());
        assert_eq!(written, expected);
        for path in &expected {
            let n: usize = path.as_str()[5..10].parse().unwrap();
            assert_eq!(
                fs::read_to_string(dirs.root.path().join(path.as_str())).unwrap(),
                format!("file {n}\n")
            );
            assert!(index.files.contains_key(path), "{path} not in the index");
        }
        assert_eq!(fs::read_dir(dirs.staging.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_failed_rename_leaves_every_file_placed_by_the_burst_recorded_in_the_index() {
        let dirs = Dirs::new();
        let mut index = Index::load(dirs.state.path()).unwrap();
        let writes = staged(dirs.root.path(), dirs.staging.path(), 1_200);
        // One staging file gone: its rename fails, in the middle of a run.
        fs::remove_file(&writes[700].temporary).unwrap();

        let (failed, written) = dirs.burst(&mut index, writes);

        assert!(failed.is_err());
        let mut on_disk = 0;
        let root = dirs.root.path();
        for directory in fs::read_dir(root).unwrap() {
            for file in fs::read_dir(directory.unwrap().path()).unwrap() {
                let file = file.unwrap().path();
                let relative = file.strip_prefix(root).unwrap().to_str().unwrap();
                let path = FilePath::parse(relative).unwrap();
                assert!(
                    index.files.contains_key(&path),
                    "{relative} is in the tree but not in the index"
                );
                on_disk += 1;
            }
        }
        assert_eq!(on_disk, written.len());
        assert!(
            on_disk >= 700,
            "the runs without the failure finished: {on_disk} placed"
        );
    }
}
