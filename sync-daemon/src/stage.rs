//! A cycle's third step: every new content into staging, verified, before
//! anything in the tree changes. Each distinct content is fetched once: a
//! second path with the same content is copied from the first, and content
//! the tree already holds at a clean synced path (a rename on the server
//! arrives as a delete and an add) is copied from there instead of
//! downloaded. Small contents a delta answer carried inline are written
//! from there, verified the same way, with no request at all.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sync_protocol::{FileEntry, FilePath};

use crate::apply::Tree;
use crate::digest::Digest;
use crate::early::Early;
use crate::error::{Error, io_error};
use crate::fetch::{self, Wanted};
use crate::fsio::{self, CheckedDirs};
use crate::index::Index;
use crate::staging::Staged;

/// New content waiting in staging for its rename to `target`.
#[derive(Debug)]
pub struct StagedWrite {
    pub entry: FileEntry,
    pub target: PathBuf,
    pub temporary: PathBuf,
}

#[cfg(test)]
impl StagedWrite {
    /// `content` staged as `staging/temporary_name`, for `path` under `root`.
    pub fn for_test(
        root: &Path,
        staging: &Path,
        path: &str,
        temporary_name: &str,
        content: &str,
    ) -> StagedWrite {
        let temporary = staging.join(temporary_name);
        fs::write(&temporary, content).unwrap();
        let path = FilePath::parse(path).unwrap();
        StagedWrite {
            target: root.join(path.as_str()),
            entry: FileEntry {
                path,
                sha256: sync_protocol::sha256_hex(content.as_bytes()),
                size: content.len() as u64,
            },
            temporary,
        }
    }
}

/// Stages every write; a write whose parents cannot be made (staging beside
/// the targets needs them first) is passed to `refuse` and left out. With
/// `early`, a downloaded content only one write needs is placed as it
/// arrives, and that write is left out of the answer. Also returns how long
/// the downloads took, for the cycle's log.
pub async fn stage(
    tree: &Tree<'_>,
    index: &Index,
    writes: Vec<FileEntry>,
    inline: &HashMap<String, Vec<u8>>,
    staged: &mut Staged,
    refuse: &mut dyn FnMut(&FilePath, &str),
    early: Option<&Arc<Early>>,
) -> Result<(Vec<StagedWrite>, Duration), Error> {
    // A content several paths need is copied from its first staging file
    // after the download: that file must still be there, so not placed early.
    let mut paths_per_content: HashMap<String, usize> = HashMap::new();
    if early.is_some() {
        for entry in &writes {
            *paths_per_content.entry(entry.sha256.clone()).or_default() += 1;
        }
    }
    let mut first_with_content: HashMap<String, PathBuf> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut wanted = Vec::new();
    let mut kept = Vec::with_capacity(writes.len());
    // Built on first need: over a 10,000-file index it took 3 ms, the
    // whole of a one-file save's stage step (its content came inline).
    let mut local_copies = None;
    let mut dirs = CheckedDirs::default();
    for entry in writes {
        if tree.staging.beside_targets()
            && let Err(refused) = fsio::create_parents(tree.root, &entry.path, &mut dirs)
        {
            refuse(&entry.path, &refused.to_string());
            continue;
        }
        let target = tree.root.join(entry.path.as_str());
        // A content only this path needs, bound for a directory the tree
        // does not have yet, is staged in the cycle's graft.
        let only_this_path = paths_per_content.get(&entry.sha256) == Some(&1);
        let graft = match early {
            Some(early) if only_this_path && !inline.contains_key(entry.sha256.as_str()) => {
                early.graft_staging_path(&entry.path)?
            }
            _ => None,
        };
        let (temporary, graft_root) = match graft {
            Some((temporary, root)) => (temporary, Some(root)),
            None => (tree.staging.temporary_for(&target), None),
        };
        staged.push(temporary.clone());
        if let Some(first) = first_with_content.get(entry.sha256.as_str()) {
            duplicates.push((first.clone(), temporary.clone()));
        } else {
            first_with_content.insert(entry.sha256.clone(), temporary.clone());
            if let Some(content) = inline.get(entry.sha256.as_str()) {
                fetch::write_verified(content, &temporary, &entry.sha256)?;
            } else if copied_locally(
                tree.root,
                local_copies.get_or_insert_with(|| index.clean_paths_by_sha256()),
                &entry,
                (&temporary, graft_root.is_some()),
                &mut dirs,
            )? {
                if let (Some(early), Some(root)) = (early, graft_root) {
                    let write = StagedWrite {
                        entry,
                        target,
                        temporary,
                    };
                    early.ready(write, root);
                    continue;
                }
            } else {
                wanted.push(Wanted {
                    sha256: entry.sha256.clone(),
                    size: entry.size,
                    destination: temporary.clone(),
                    in_graft: graft_root.is_some(),
                });
                if let Some(early) = early
                    && only_this_path
                {
                    let write = StagedWrite {
                        entry,
                        target,
                        temporary,
                    };
                    early.expect(write, graft_root);
                    continue;
                }
            }
        }
        kept.push(StagedWrite {
            entry,
            target,
            temporary,
        });
    }
    let downloading = Instant::now();
    fetch::download(tree.client, wanted, early).await?;
    let downloaded = downloading.elapsed();

    for (source, destination) in duplicates {
        fsio::copy_new(&source, &destination).map_err(|e| io_error(&destination, e))?;
    }
    Ok((kept, downloaded))
}

/// Copies content the tree already holds instead of downloading it.
fn copied_locally(
    root: &Path,
    local_copies: &HashMap<Digest, &FilePath>,
    entry: &FileEntry,
    (temporary, in_graft): (&Path, bool),
    dirs: &mut CheckedDirs,
) -> Result<bool, Error> {
    let Some(source) = Digest::parse(&entry.sha256).and_then(|sha256| local_copies.get(&sha256))
    else {
        return Ok(false);
    };
    let Ok(source) = fsio::checked_target(root, source, dirs) else {
        return Ok(false);
    };
    if !fs::symlink_metadata(&source).is_ok_and(|m| m.is_file()) {
        return Ok(false);
    }
    if in_graft && let Some(parent) = temporary.parent() {
        // In staging, below the graft's own directory (see fetch).
        fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    fetch::copy_verified(&source, temporary, &entry.sha256)
}
