//! A cycle's decisions, apart from its I/O: from the manifest, what the
//! daemon owns and what was seen on disk, the list of operations the cycle
//! will carry out. Nothing here touches the disk, so every ownership rule is
//! a row in the table tests below.
//!
//! The rules, chosen for an editor user whose editor is the source of
//! truth: a path in the manifest always gets the server's content, even over
//! a local file the daemon did not write (that file is first copied to
//! `<state-dir>/displaced/`: [`Operation::Replace`]); a synced file edited
//! locally gets the server's content back when the manifest names it
//! ([`Operation::Restore`]); a path that leaves the manifest is deleted only
//! if the daemon owns it. A local file already byte-identical to the
//! manifest's entry is adopted (recorded as the daemon's, not rewritten):
//! that is how a tree whose state dir was lost converges without a single
//! write. A path whose way crosses a symlink is refused, written or deleted.
//! `node_modules/` and `.next/` never reach the planner: [`FilePath`]
//! refuses them.

use std::collections::{HashMap, HashSet};

use sync_protocol::{FileEntry, FilePath};

use crate::client::Manifest;
use crate::fsio::Stamp;

/// What the planner needs of the index: the record of what the daemon wrote.
pub trait Ownership {
    /// The sha256 the daemon recorded when it wrote or adopted `path`.
    fn owned_sha256(&self, path: &FilePath) -> Option<String>;
    /// Every path the daemon owns.
    fn owned_paths(&self) -> impl Iterator<Item = &FilePath>;
}

/// What was found at a path before the cycle changed anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Nothing is there.
    Missing,
    /// A regular file with this content and stamp.
    File { sha256: String, stamp: Stamp },
    /// A directory (this cycle's deletes may empty it; the rename decides),
    /// or a symlink (a rename replaces the link, never its target).
    NotAFile,
    /// The way to it is safe; what is there was not looked at (a path that
    /// leaves the tree needs no more).
    Reachable,
    /// A parent on the way is a regular file, at this path.
    UnderAFile(FilePath),
    /// Unsafe to touch (a symlink on the way, an unreadable directory): why.
    Unsafe(String),
}

/// One thing a cycle does, decided before anything is touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Already right: record it as the daemon's (or refresh its stamp).
    Adopt {
        path: FilePath,
        sha256: String,
        stamp: Stamp,
    },
    /// New content where there is no file, or where the daemon's own
    /// unedited file is.
    Write(FileEntry),
    /// A synced file edited locally: the server's content returns.
    Restore(FileEntry),
    /// A local file the daemon did not write: keep a copy, then write.
    Replace(FileEntry),
    /// An owned path that left the manifest.
    Delete(FilePath),
    /// Not written or deleted, for safety.
    Refuse { path: FilePath, reason: String },
}

/// The owned paths this manifest drops: for a full manifest every owned
/// path it does not list, for a delta the deleted paths the daemon owns.
pub fn leaving(manifest: &Manifest, owned: &impl Ownership) -> Vec<FilePath> {
    if manifest.full {
        let present: HashSet<&FilePath> = manifest.files.iter().map(|entry| &entry.path).collect();
        owned
            .owned_paths()
            .filter(|path| !present.contains(path))
            .cloned()
            .collect()
    } else {
        manifest
            .deleted
            .iter()
            .filter(|path| owned.owned_sha256(path).is_some())
            .cloned()
            .collect()
    }
}

/// The cycle's operations: deletes (and refused deletes) first, then one
/// operation per manifest entry, in manifest order. `seen` holds what was
/// found at every manifest path and every [`leaving`] path.
pub fn plan(
    manifest: &Manifest,
    owned: &impl Ownership,
    seen: &HashMap<FilePath, Seen>,
) -> Vec<Operation> {
    let look = |path: &FilePath| {
        seen.get(path)
            .cloned()
            .unwrap_or(Seen::Unsafe(format!("{path} was not looked at")))
    };
    let mut operations = Vec::with_capacity(manifest.files.len());
    // A file this cycle deletes may stand where a new file needs a
    // directory (`a` becomes `a/b`); the burst deletes before it renames.
    let mut freed = HashSet::new();
    for path in leaving(manifest, owned) {
        match look(&path) {
            Seen::Unsafe(reason) => operations.push(Operation::Refuse { path, reason }),
            Seen::UnderAFile(blocker) => operations.push(Operation::Refuse {
                reason: not_a_directory(&blocker),
                path,
            }),
            _ => {
                freed.insert(path.clone());
                operations.push(Operation::Delete(path));
            }
        }
    }
    for entry in &manifest.files {
        let operation = match look(&entry.path) {
            Seen::Missing | Seen::NotAFile | Seen::Reachable => Operation::Write(entry.clone()),
            Seen::UnderAFile(blocker) if freed.contains(&blocker) => {
                Operation::Write(entry.clone())
            }
            Seen::UnderAFile(blocker) => Operation::Refuse {
                path: entry.path.clone(),
                reason: not_a_directory(&blocker),
            },
            Seen::Unsafe(reason) => Operation::Refuse {
                path: entry.path.clone(),
                reason,
            },
            Seen::File { sha256, stamp } if sha256 == entry.sha256 => Operation::Adopt {
                path: entry.path.clone(),
                sha256,
                stamp,
            },
            Seen::File { sha256, .. } => match owned.owned_sha256(&entry.path) {
                Some(known) if known != sha256 => Operation::Restore(entry.clone()),
                Some(_) => Operation::Write(entry.clone()),
                None => Operation::Replace(entry.clone()),
            },
        };
        operations.push(operation);
    }
    operations
}

fn not_a_directory(blocker: &FilePath) -> String {
    format!("{blocker} is in the way: it is not a directory")
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
