//! New directories built whole in staging and moved into the tree with one
//! rename each, in a cycle no dev server watches yet ([`crate::early`]).
//!
//! An initial sync puts 10,000 files into 1,000 directories the tree does
//! not have. Staged one by one and renamed into place, each file cost a
//! create in staging, a rename taking two directories' locks, the checks of
//! its parents and an `lstat` after: renames alone were a sixth of the
//! daemon's system time, and it lost to `tar x`, which creates in place
//! (bench/README.md). Here a file whose directory is missing from the tree
//! is staged at its own path below `<staging>/graft-<random>/`, in the
//! directories it will have; once the downloads are done, the top missing
//! directory (the *graft root*) is renamed into the tree at once.
//!
//! The invariants hold: content is staged outside the tree and verified
//! before it is visible (a file that did not arrive whole is removed from
//! the graft before the rename, so the directory appears with complete,
//! verified files only); the tree's existing parents are checked as for any
//! write ([`fsio::create_parents`]); nothing is written through a symlink
//! (renaming a directory onto a symlink or a file fails with `ENOTDIR`, onto
//! a directory with content with `ENOTEMPTY`, and then each file is placed
//! on its own, as without grafting); every file moved in is recorded. A
//! file keeps its inode, size and times when its directory is renamed, so
//! its stamp is taken in staging.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sync_protocol::FilePath;

use crate::burst::{self, Placed};
use crate::error::{Error, io_error};
use crate::fsio::{self, CheckedDirs, Stamp};
use crate::stage::StagedWrite;

/// What a directory of the tree is, for grafting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirState {
    /// A directory, not a symlink: a graft may go below it.
    Real,
    Missing,
    /// A symlink, a file, or unreadable: the write goes the usual way,
    /// which refuses it or reports the error.
    Other,
}

/// The top directory of `path` (a file's path) that `state_of` says is
/// missing, when every directory above it is real; `None` when the file's
/// directory exists, or something other than a directory is on its way.
pub fn graft_root(path: &str, mut state_of: impl FnMut(&str) -> DirState) -> Option<&str> {
    let mut start = 0;
    while let Some(slash) = path[start..].find('/') {
        let directory = &path[..start + slash];
        match state_of(directory) {
            DirState::Real => start += slash + 1,
            DirState::Missing => return Some(directory),
            DirState::Other => return None,
        }
    }
    None
}

/// A staged file bound for a graft, once its content is verified.
#[derive(Debug)]
pub struct Grafted {
    pub write: StagedWrite,
    pub stamp: Stamp,
    /// Which of the cycle's graft roots it is below.
    pub root: usize,
}

/// One cycle's graft: where its files are staged, and its roots.
#[derive(Debug)]
pub struct Graft {
    tree: PathBuf,
    dir: PathBuf,
    made_dir: bool,
    /// The tree's directories looked at, by path relative to the tree.
    probed: HashMap<String, DirState>,
    /// The graft roots met so far, each with its index (the order met).
    roots: HashMap<String, usize>,
}

/// Longer staging paths are not grafted: the tree's own path to the file
/// may fit the system's limit where `<staging>/graft-<random>/<path>` would not.
const MAX_STAGING_PATH_BYTES: usize = 4000;

impl Graft {
    /// A graft staged in `dir` (made on first need) for the tree at `tree`.
    pub fn new(tree: &Path, dir: PathBuf) -> Graft {
        Graft {
            tree: tree.to_path_buf(),
            dir,
            made_dir: false,
            probed: HashMap::new(),
            roots: HashMap::new(),
        }
    }

    /// Where to stage `path` when a directory on its way is missing from
    /// the tree, and the index of its graft root. The graft's own directory
    /// is made here; the ones below it, by whoever writes the file there
    /// first. `None`: stage it the usual way.
    pub fn staging_path(&mut self, path: &FilePath) -> Result<Option<(PathBuf, usize)>, Error> {
        let text = path.as_str();
        let staged = self.dir.join(text);
        if staged.as_os_str().len() > MAX_STAGING_PATH_BYTES {
            return Ok(None);
        }
        let Graft {
            tree,
            probed,
            roots,
            ..
        } = self;
        let Some(root) = graft_root(text, |directory| {
            if let Some(state) = probed.get(directory) {
                return *state;
            }
            let state = probe(&tree.join(directory));
            probed.insert(directory.to_owned(), state);
            state
        }) else {
            return Ok(None);
        };
        let count = roots.len();
        let index = *roots.entry(root.to_owned()).or_insert(count);
        if !self.made_dir {
            fs::create_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
            self.made_dir = true;
        }
        Ok(Some((staged, index)))
    }

    /// Moves each graft root with files into the tree, all of it in one
    /// rename, or when that fails each file on its own ([`burst::place`]).
    /// Returns what was placed, and the first failure (nothing is placed
    /// after it). The staging directory is removed afterwards.
    pub fn move_in(&self, grafted: Vec<Grafted>) -> (Vec<Placed>, Option<Error>) {
        let mut roots: Vec<(&str, Vec<Grafted>)> =
            (0..self.roots.len()).map(|_| ("", Vec::new())).collect();
        for (root, index) in &self.roots {
            roots[*index].0 = root;
        }
        for file in grafted {
            roots[file.root].1.push(file);
        }
        let mut placed = Vec::new();
        let mut failed = None;
        let mut dirs = CheckedDirs::default();
        for (root, files) in roots {
            if files.is_empty() {
                continue;
            }
            if let Err(error) = self.move_root(root, files, &mut dirs, &mut placed) {
                failed = Some(error);
                break;
            }
        }
        if self.made_dir {
            // Only the graft's emptied directories, or files never moved in.
            let _ = fs::remove_dir_all(&self.dir);
        }
        (placed, failed)
    }

    fn move_root(
        &self,
        root: &str,
        files: Vec<Grafted>,
        dirs: &mut CheckedDirs,
        placed: &mut Vec<Placed>,
    ) -> Result<(), Error> {
        let root_path = FilePath::parse(root).map_err(|e| io_error(root, io::Error::other(e)))?;
        let parents = fsio::create_parents(&self.tree, &root_path, dirs);
        let target = self.tree.join(root);
        if parents.is_ok() && fs::rename(self.dir.join(root), &target).is_ok() {
            placed.extend(files.into_iter().map(|file| Placed::Written {
                entry: file.write.entry,
                stamp: file.stamp,
            }));
            return Ok(());
        }
        // Something is at the root now, or on its way: file by file, each
        // checked and refused as any write is.
        tracing::debug!(
            root,
            "a graft root could not be moved in whole; placing its files one by one"
        );
        for file in files {
            placed.push(burst::place(&self.tree, file.write, dirs)?);
        }
        Ok(())
    }
}

fn probe(directory: &Path) -> DirState {
    match fs::symlink_metadata(directory) {
        Ok(metadata) if metadata.is_dir() => DirState::Real,
        Ok(_) => DirState::Other,
        Err(error) if error.kind() == io::ErrorKind::NotFound => DirState::Missing,
        Err(_) => DirState::Other,
    }
}

#[cfg(test)]
#[path = "graft_tests.rs"]
mod tests;
