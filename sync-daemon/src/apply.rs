//! One cycle: turn a manifest into the tree on disk, in four steps.
//!
//! 1. **Observe** (`lstat` only, hashing just the files whose stamp
//!    changed): what is at every path the manifest names or drops.
//! 2. **Plan**: the pure decisions of [`crate::plan`], then the records
//!    that need no new content (adoptions, `displaced/` copies).
//! 3. **Stage** ([`crate::stage`]): download or copy every new content into
//!    staging and verify its sha256. Nothing in the tree has changed yet, so
//!    a failure here leaves it as it was.
//! 4. **Burst**: deletes, then renames into place, in one tight loop, so a
//!    dev server's watcher sees one batch of complete files.
//!
//! A cycle no dev server watches yet ([`Placing::AsTheyArrive`]: the first
//! of a process, or `--once`) deletes first and renames each download as
//! soon as it is verified, during step 3 ([`crate::early`]); a file whose
//! directory the tree does not have is staged in a [`crate::graft`] instead,
//! and its top missing directory renamed in whole once the downloads are
//! done. A failure then leaves what was placed, recorded in the index, for
//! the next cycle.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use sync_protocol::{FileEntry, FilePath};

use crate::burst;
use crate::client::{Client, Manifest};
use crate::early::Early;
use crate::error::{Error, io_error};
use crate::fsio::{self, CheckedDirs, Refused, Stamp, Way};
use crate::index::Index;
use crate::plan::{self, Operation, Seen};
use crate::refusals::CycleRefusals;
use crate::stage;
use crate::staging::{Staged, Staging};

/// What a cycle works with besides the index.
#[derive(Debug)]
pub struct Tree<'a> {
    pub root: &'a Path,
    pub state_dir: &'a Path,
    pub staging: &'a Staging,
    pub client: &'a Client,
}

/// What a cycle changed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub revision: u64,
    pub written: Vec<FilePath>,
    pub deleted: Vec<FilePath>,
    /// Paths skipped for safety (symlink on the way, directory in the way)
    /// or malformed in the manifest, each with the reason.
    pub refused: Vec<(String, String)>,
    /// Whether the manifest was the whole one.
    pub full: bool,
    /// For a delta, every path it named: those whose refusal it settles.
    pub mentioned: Vec<FilePath>,
}

impl Outcome {
    /// What this cycle says about refused paths, for the sync status.
    pub fn refusals(&self) -> CycleRefusals<'_> {
        CycleRefusals {
            revision: self.revision,
            full: self.full,
            mentioned: self.mentioned.iter().map(FilePath::as_str).collect(),
            refused: self.refused.clone(),
        }
    }
}

/// How a cycle puts its new files in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placing {
    /// All in one burst at the end, for the dev server's watcher.
    InOneBurst,
    /// Each download as it arrives ([`crate::early`]): no dev server
    /// watches yet (the first cycle of a process, or `--once`).
    AsTheyArrive,
}

#[tracing::instrument(name = "apply", skip_all, fields(revision = manifest.revision, full = manifest.full))]
pub async fn apply(
    tree: &Tree<'_>,
    index: &mut Index,
    mut manifest: Manifest,
    placing: Placing,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let mut outcome = Outcome {
        revision: manifest.revision,
        full: manifest.full,
        ..Outcome::default()
    };
    let seen = observe(tree.root, index, &manifest)?;
    let observed = started.elapsed();
    let mut writes = Vec::new();
    let mut deletes = Vec::new();
    for operation in plan::plan(&manifest, &*index, &seen) {
        match operation {
            Operation::Adopt {
                path,
                sha256,
                stamp,
            } => index.record(path, sha256, stamp),
            Operation::Write(entry) => writes.push(entry),
            Operation::Restore(entry) => {
                tracing::warn!(path = %entry.path, "synced file was edited locally; restoring the server's content");
                writes.push(entry);
            }
            Operation::Replace(entry) => {
                displace(tree, &entry.path)?;
                writes.push(entry);
            }
            Operation::Delete(path) => deletes.push(path),
            Operation::Refuse { path, reason } => refuse(&path, &reason, &mut outcome),
        }
    }
    drop(seen);
    if !manifest.full {
        let named = manifest.files.iter().map(|entry| &entry.path);
        outcome.mentioned = named.chain(&manifest.deleted).cloned().collect();
    }
    outcome.refused.extend(manifest.refused);
    let planned = started.elapsed();
    let mut staged = Staged::default();
    let contents = std::mem::take(&mut manifest.contents);
    let early = (placing == Placing::AsTheyArrive)
        .then(|| Arc::new(Early::new(tree.root, tree.staging.graft(tree.root))));
    if early.is_some() {
        // Before anything is placed: a delete may free a path a write needs.
        let deletes = std::mem::take(&mut deletes);
        burst::delete_all(tree.root, index, deletes, &mut outcome.deleted)?;
    }
    let staging = stage::stage(
        tree,
        index,
        writes,
        &contents,
        &mut staged,
        &mut |path, reason| refuse(path, reason, &mut outcome),
        early.as_ref(),
    )
    .await;
    // The download's threads are all done: what they placed is final.
    let (placed_early, failed_early) = early.map_or_else(Default::default, |early| early.finish());
    let Outcome {
        written,
        deleted,
        refused,
        ..
    } = &mut outcome;
    let refuse = &mut |path: &FilePath, reason: &str| refuse_into(refused, path, reason);
    let (writes, downloaded) = match (staging, failed_early) {
        (Ok(staged), None) => staged,
        (Err(error), _) | (Ok(_), Some(error)) => {
            // Files in the tree are owned, also when the cycle fails.
            burst::record(index, placed_early, written, refuse);
            return Err(error);
        }
    };
    let staged_at = started.elapsed();
    burst::delete_all(tree.root, index, deletes, deleted)?;
    let leftovers = burst::burst(tree.root, index, writes, written, refuse, placed_early)?;
    staged.left_over(leftovers);
    let burst_at = started.elapsed();
    // The caller saves the index (throttled, off the path to the next request).
    index.revision = Some(manifest.revision);
    if !outcome.written.is_empty() || !outcome.deleted.is_empty() || !outcome.refused.is_empty() {
        tracing::info!(
            revision = outcome.revision,
            written = outcome.written.len(),
            deleted = outcome.deleted.len(),
            refused = outcome.refused.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            observe_ms = observed.as_millis() as u64,
            plan_ms = (planned - observed).as_millis() as u64,
            stage_ms = (staged_at - planned).as_millis() as u64,
            download_ms = downloaded.as_millis() as u64,
            burst_ms = (burst_at - staged_at).as_millis() as u64,
            "applied"
        );
    }
    Ok(outcome)
}

/// What is at every path the manifest names, and on the way to every owned
/// path it drops.
fn observe(
    root: &Path,
    index: &Index,
    manifest: &Manifest,
) -> Result<HashMap<FilePath, Seen>, Error> {
    let mut seen = HashMap::with_capacity(manifest.files.len());
    let mut dirs = CheckedDirs::default();
    for path in plan::leaving(manifest, index) {
        let way = match fsio::checked_target(root, &path, &mut dirs) {
            Ok(_) => Seen::Reachable,
            Err(refused) => blocked(root, refused),
        };
        seen.insert(path, way);
    }
    for entry in &manifest.files {
        let on_disk = match fsio::checked_way(root, &entry.path, &mut dirs) {
            Ok(Way::Open(target)) => look_at(index, entry, &target)?,
            Ok(Way::Missing(_)) => Seen::Missing,
            Err(refused) => blocked(root, refused),
        };
        seen.insert(entry.path.clone(), on_disk);
    }
    Ok(seen)
}

fn look_at(index: &Index, entry: &FileEntry, target: &Path) -> Result<Seen, Error> {
    let metadata = match fs::symlink_metadata(target) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Seen::Missing),
        Err(error) => return Err(io_error(target, error)),
    };
    if !metadata.is_file() {
        return Ok(Seen::NotAFile);
    }
    let sha256 = index
        .sha256_of(&entry.path, target, &metadata)
        .map_err(|e| io_error(target, e))?;
    Ok(Seen::File {
        sha256,
        stamp: Stamp::of(&metadata),
    })
}

/// A refused way, with a file in the way named by its path in the tree.
fn blocked(root: &Path, refused: Refused) -> Seen {
    if let Refused::NotADirectory(blocker) = &refused
        && let Some(path) = blocker
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .and_then(|text| FilePath::parse(text).ok())
    {
        return Seen::UnderAFile(path);
    }
    Seen::Unsafe(refused.to_string())
}

/// Keeps a copy of a local file the daemon did not write before the
/// server's version replaces it, so nothing a person made is lost outright.
fn displace(tree: &Tree<'_>, path: &FilePath) -> Result<(), Error> {
    let target = tree.root.join(path.as_str());
    let copy = tree.state_dir.join("displaced").join(path.as_str());
    tracing::warn!(
        %path,
        copy = %copy.display(),
        "a local file the daemon did not write is at a path the server now has; replacing it, keeping a copy"
    );
    if let Some(parent) = copy.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    fs::copy(&target, &copy).map_err(|e| io_error(&copy, e))?;
    Ok(())
}

fn refuse(path: &FilePath, reason: &str, outcome: &mut Outcome) {
    refuse_into(&mut outcome.refused, path, reason);
}

fn refuse_into(refused: &mut Vec<(String, String)>, path: &FilePath, reason: &str) {
    tracing::error!(%path, reason, "refusing to write or delete this path");
    refused.push((path.as_str().to_owned(), reason.to_owned()));
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn path(text: &str) -> FilePath {
        FilePath::parse(text).unwrap()
    }

    fn entry(text: &str, content: &[u8]) -> FileEntry {
        FileEntry {
            path: path(text),
            sha256: sync_protocol::sha256_hex(content),
            size: content.len() as u64,
        }
    }

    #[test]
    fn observing_names_what_is_on_disk_in_the_planners_terms() {
        let root = tempfile::tempdir().unwrap();
        let state = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root_path = root.path();
        fs::write(root_path.join("same.txt"), b"same").unwrap();
        fs::write(root_path.join("blocker"), b"a file").unwrap();
        fs::create_dir(root_path.join("dir.txt")).unwrap();
        symlink(outside.path(), root_path.join("linked")).unwrap();
        let mut index = Index::load(state.path()).unwrap();
        index.record(
            path("linked/owned"),
            sync_protocol::sha256_hex(b"old"),
            Stamp::of(&fs::symlink_metadata(root_path).unwrap()),
        );
        let manifest = Manifest {
            revision: 1,
            full: true,
            files: vec![
                entry("same.txt", b"same"),
                entry("new.txt", b"new"),
                entry("dir.txt", b"x"),
                entry("blocker/inner.txt", b"x"),
                entry("linked/inner.txt", b"x"),
            ],
            deleted: Vec::new(),
            etag: None,
            store_id: None,
            refused: Vec::new(),
            contents: Default::default(),
        };
        let seen = observe(root_path, &index, &manifest).unwrap();
        let same = fs::symlink_metadata(root_path.join("same.txt")).unwrap();
        assert_eq!(
            seen[&path("same.txt")],
            Seen::File {
                sha256: sync_protocol::sha256_hex(b"same"),
                stamp: Stamp::of(&same)
            }
        );
        assert_eq!(seen[&path("new.txt")], Seen::Missing);
        assert_eq!(seen[&path("dir.txt")], Seen::NotAFile);
        assert_eq!(
            seen[&path("blocker/inner.txt")],
            Seen::UnderAFile(path("blocker"))
        );
        assert!(
            matches!(&seen[&path("linked/inner.txt")], Seen::Unsafe(reason) if reason.contains("symlink"))
        );
        // The owned path the manifest drops is looked at too: its way is unsafe.
        assert!(matches!(&seen[&path("linked/owned")], Seen::Unsafe(_)));
        assert_eq!(seen.len(), 6);
    }
}
