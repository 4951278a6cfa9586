//! One cycle: turn a manifest into the tree on disk.
//!
//! 1. **Plan** (`lstat` only, hashing just the files whose stamp changed):
//!    which paths need new content, which owned paths must go.
//! 2. **Stage**: download (or copy from an identical local file) every new
//!    content into staging and verify its sha256. Nothing in the tree has
//!    changed yet, so a failure here leaves it as it was.
//! 3. **Burst**: deletes, then renames into place, in one tight loop, so a
//!    dev server's watcher sees one batch of complete files.
//!
//! Ownership rules, chosen for an editor user whose editor is the source of
//! truth: a path in the manifest always gets the server's content, even
//! over a local file the daemon did not write (that file is first copied to
//! `<state-dir>/displaced/` and a warning is logged); a path that leaves the
//! manifest is deleted only if the index says the daemon wrote it. Files
//! the manifest never named, `node_modules/` and `.next/` are never touched.
//! A local file already byte-identical to the manifest's entry is adopted
//! (recorded as the daemon's, not rewritten): that is how a tree whose
//! state dir was lost converges without a single write.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sync_protocol::{FileEntry, FilePath};

use crate::client::{Client, Manifest};
use crate::error::{Error, RuntimeError, io_error};
use crate::fetch::{self, Wanted};
use crate::fsio::{self, Refused, Stamp};
use crate::index::Index;
use crate::refusals::CycleRefusals;
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

/// The changes a cycle will make, decided before anything is touched.
struct Plan {
    writes: Vec<Write>,
    deletes: Vec<(FilePath, PathBuf)>,
}

struct Write {
    entry: FileEntry,
    target: PathBuf,
    temporary: PathBuf,
}

#[tracing::instrument(name = "apply", skip_all, fields(revision = manifest.revision, full = manifest.full))]
pub async fn apply(
    tree: &Tree<'_>,
    index: &mut Index,
    manifest: Manifest,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let mut outcome = Outcome {
        revision: manifest.revision,
        full: manifest.full,
        ..Outcome::default()
    };
    let Plan {
        mut writes,
        deletes,
    } = plan(tree, index, &manifest, &mut outcome)?;
    if !manifest.full {
        let named = manifest.files.iter().map(|entry| &entry.path);
        outcome.mentioned = named.chain(&manifest.deleted).cloned().collect();
    }
    outcome.refused.extend(manifest.refused);
    let mut staged = Staged::default();
    stage(tree, index, &mut writes, &mut staged, &mut outcome).await?;
    burst(tree.root, index, writes, deletes, &mut outcome)?;
    // The caller saves the index (throttled, off the path to the next request).
    index.revision = Some(manifest.revision);
    if !outcome.written.is_empty() || !outcome.deleted.is_empty() || !outcome.refused.is_empty() {
        tracing::info!(
            revision = outcome.revision,
            written = outcome.written.len(),
            deleted = outcome.deleted.len(),
            refused = outcome.refused.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "applied"
        );
    }
    Ok(outcome)
}

fn plan(
    tree: &Tree<'_>,
    index: &mut Index,
    manifest: &Manifest,
    outcome: &mut Outcome,
) -> Result<Plan, Error> {
    let leaving: Vec<FilePath> = if manifest.full {
        let present: HashSet<&FilePath> = manifest.files.iter().map(|entry| &entry.path).collect();
        index
            .files
            .keys()
            .filter(|path| !present.contains(path))
            .cloned()
            .collect()
    } else {
        manifest
            .deleted
            .iter()
            .filter(|path| index.owns(path))
            .cloned()
            .collect()
    };
    let mut deletes = Vec::new();
    for path in leaving {
        match fsio::checked_target(tree.root, &path) {
            Ok(target) => deletes.push((path, target)),
            Err(refused) => refuse(&path, &refused, outcome),
        }
    }
    // A file this cycle deletes may stand where a new file needs a
    // directory (`a` becomes `a/b`); the burst deletes before it renames.
    let freed: HashSet<&Path> = deletes.iter().map(|(_, target)| target.as_path()).collect();
    let mut writes = Vec::new();
    for entry in &manifest.files {
        let target = match fsio::checked_target(tree.root, &entry.path) {
            Ok(target) => target,
            Err(Refused::NotADirectory(blocker)) if freed.contains(blocker.as_path()) => {
                let target = tree.root.join(entry.path.as_str());
                writes.push(Write {
                    entry: entry.clone(),
                    target,
                    temporary: PathBuf::new(),
                });
                continue;
            }
            Err(refused) => {
                refuse(&entry.path, &refused, outcome);
                continue;
            }
        };
        let metadata = match fs::symlink_metadata(&target) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                writes.push(Write {
                    entry: entry.clone(),
                    target,
                    temporary: PathBuf::new(),
                });
                continue;
            }
            Err(error) => return Err(io_error(&target, error)),
        };
        // A directory in the way may be emptied by this very cycle's
        // deletes; the rename in the burst decides.
        if metadata.is_file() {
            let sha256 = index
                .sha256_of(&entry.path, &target, &metadata)
                .map_err(|e| io_error(&target, e))?;
            if sha256 == entry.sha256 {
                // Already right: adopt it (or refresh its stamp), write nothing.
                index.record(entry.path.clone(), sha256, Stamp::of(&metadata));
                continue;
            }
            match index.files.get(&entry.path) {
                Some(known) if known.sha256 != sha256 => tracing::warn!(
                    path = %entry.path,
                    "synced file was edited locally; restoring the server's content"
                ),
                Some(_) => {}
                None => displace(tree, &entry.path, &target)?,
            }
        }
        writes.push(Write {
            entry: entry.clone(),
            target,
            temporary: PathBuf::new(),
        });
    }

    Ok(Plan { writes, deletes })
}

/// Keeps a copy of a local file the daemon did not write before the
/// server's version replaces it, so nothing a person made is lost outright.
fn displace(tree: &Tree<'_>, path: &FilePath, target: &Path) -> Result<(), Error> {
    let copy = tree.state_dir.join("displaced").join(path.as_str());
    tracing::warn!(
        %path,
        copy = %copy.display(),
        "a local file the daemon did not write is at a path the server now has; replacing it, keeping a copy"
    );
    if let Some(parent) = copy.parent() {
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    fs::copy(target, &copy).map_err(|e| io_error(&copy, e))?;
    Ok(())
}

async fn stage(
    tree: &Tree<'_>,
    index: &Index,
    writes: &mut Vec<Write>,
    staged: &mut Staged,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    let mut first_with_content: HashMap<String, PathBuf> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut wanted = Vec::new();
    let mut kept = Vec::with_capacity(writes.len());
    let local_copies = index.clean_paths_by_sha256();
    for mut write in writes.drain(..) {
        if tree.staging.beside_targets()
            && let Err(refused) = fsio::create_parents(tree.root, &write.entry.path)
        {
            refuse(&write.entry.path, &refused, outcome);
            continue;
        }
        write.temporary = tree.staging.temporary_for(&write.target);
        staged.push(write.temporary.clone());
        if let Some(first) = first_with_content.get(&write.entry.sha256) {
            duplicates.push((first.clone(), write.temporary.clone()));
        } else {
            first_with_content.insert(write.entry.sha256.clone(), write.temporary.clone());
            if !copied_locally(tree.root, &local_copies, &write)? {
                wanted.push(Wanted {
                    sha256: write.entry.sha256.clone(),
                    size: write.entry.size,
                    destination: write.temporary.clone(),
                });
            }
        }
        kept.push(write);
    }
    *writes = kept;
    fetch::download(tree.client, &wanted).await?;
    for (source, destination) in duplicates {
        fsio::copy_new(&source, &destination).map_err(|e| io_error(&destination, e))?;
    }
    Ok(())
}

/// A rename on the server is a delete plus an add of content the tree
/// already has: copy it instead of downloading it.
fn copied_locally(
    root: &Path,
    local_copies: &HashMap<&str, &FilePath>,
    write: &Write,
) -> Result<bool, Error> {
    let Some(source) = local_copies.get(write.entry.sha256.as_str()) else {
        return Ok(false);
    };
    let Ok(source) = fsio::checked_target(root, source) else {
        return Ok(false);
    };
    if !fs::symlink_metadata(&source).is_ok_and(|m| m.is_file()) {
        return Ok(false);
    }
    fetch::copy_verified(&source, &write.temporary, &write.entry.sha256)
}

fn burst(
    root: &Path,
    index: &mut Index,
    writes: Vec<Write>,
    deletes: Vec<(FilePath, PathBuf)>,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    for (path, target) in deletes {
        match fs::symlink_metadata(&target) {
            Ok(metadata) if metadata.is_dir() => {
                tracing::warn!(%path, "a directory replaced a synced file; leaving it");
            }
            Ok(_) => {
                fs::remove_file(&target).map_err(|e| io_error(&target, e))?;
                fsio::remove_empty_parents(root, &target);
                outcome.deleted.push(path.clone());
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(&target, error)),
        }
        index.forget(&path);
    }
    for write in writes {
        if let Err(refused) = fsio::create_parents(root, &write.entry.path) {
            refuse(&write.entry.path, &refused, outcome);
            continue;
        }
        if let Err(error) = fs::rename(&write.temporary, &write.target) {
            // EISDIR / ENOTEMPTY: a directory the user made holds the path.
            if write.target.is_dir() {
                refuse(
                    &write.entry.path,
                    &Refused::DirectoryInTheWay(write.target.clone()),
                    outcome,
                );
                continue;
            }
            return Err(io_error(&write.target, error));
        }
        let metadata =
            fs::symlink_metadata(&write.target).map_err(|e| RuntimeError::io(&write.target, e))?;
        index.record(
            write.entry.path.clone(),
            write.entry.sha256,
            Stamp::of(&metadata),
        );
        outcome.written.push(write.entry.path);
    }
    Ok(())
}

fn refuse(path: &FilePath, refused: &Refused, outcome: &mut Outcome) {
    tracing::error!(%path, reason = %refused, "refusing to write or delete this path");
    outcome
        .refused
        .push((path.as_str().to_owned(), refused.to_string()));
}
