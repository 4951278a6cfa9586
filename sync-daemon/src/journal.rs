//! How the index reaches the disk: a snapshot (`index.json`) and an
//! append-only log of what changed since (`index.log`, one line a change),
//! so a cycle that writes one file appends one line (about 200 bytes)
//! instead of rewriting the whole index (2 MB for 10,000 files).
//!
//! The log is folded into a new snapshot when it outgrows the last one (or
//! [`MIN_LOG_BYTES`]), when there is no snapshot yet, on every fsynced save,
//! and after anything went wrong with it (a torn or stale log found at
//! load, a failed append): appending after a bad line would hide the good
//! ones behind it.
//!
//! A daemon may be killed at any point; what it finds at its next start:
//! - **Mid-append.** Every line carries a checksum of itself and ends in a
//!   newline; replay stops at the first line that is incomplete or does not
//!   match, so a torn record is ignored, never trusted, and the next save
//!   folds the log (the ownership record is then the snapshot plus every
//!   complete line: a stale cache, as [`Index::save_unsynced`] describes).
//! - **Mid-compaction.** Each snapshot has a generation and the log starts
//!   with the generation it follows. A new snapshot (generation g + 1) is
//!   written beside and renamed over, then the log is started afresh with
//!   g + 1. Killed before the rename: the old snapshot and its log, as
//!   before. Killed after: the log still says g, so it is skipped whole:
//!   every line of it is in the new snapshot, and replaying an older line
//!   over a newer snapshot could bring back a path the daemon has since
//!   deleted (and later delete a file someone made there).

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_protocol::FilePath;

use crate::fsio::{self, Stamp};
use crate::index::Index;

/// The log may grow to this size before it is folded, however small the
/// snapshot.
pub const MIN_LOG_BYTES: u64 = 64 * 1024;

/// Hex digits of a line's checksum (the start of its sha256).
const CHECKSUM_HEX: usize = 8;

/// What the index changed since it last reached the disk.
#[derive(Debug, Default)]
pub struct Journal {
    touched: HashSet<FilePath>,
    logged_revision: Option<u64>,
    log_bytes: u64,
    snapshot_bytes: u64,
    /// The log on disk cannot take appends (torn, stale, missing, or an
    /// append failed): the next save writes a snapshot.
    must_fold: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
    /// The first line: the snapshot generation this log follows.
    Follows {
        generation: u64,
    },
    Record {
        path: FilePath,
        sha256: String,
        stamp: Stamp,
    },
    Forget {
        path: FilePath,
    },
    Revision {
        revision: u64,
    },
}

impl Journal {
    pub fn touch(&mut self, path: &FilePath) {
        if !self.touched.contains(path) {
            self.touched.insert(path.clone());
        }
    }
}

/// Applies `<index>.log` to a freshly loaded snapshot of `snapshot_bytes`
/// (0: none), if the log follows the snapshot's generation.
pub fn replay(index: &mut Index, snapshot_bytes: u64) {
    let log = index.location().with_extension("log");
    let bytes = fs::read(&log).unwrap_or_default();
    let (lines, intact) = complete_lines(&bytes);
    let mut must_fold = !intact;
    let mut lines = lines.into_iter();
    match lines.next() {
        Some(Line::Follows { generation }) if generation == index.generation => {
            let mut applied = 0;
            for line in lines {
                match line {
                    Line::Record {
                        path,
                        sha256,
                        stamp,
                    } => index.insert_entry(path, &sha256, stamp),
                    Line::Forget { path } => index.remove_entry(&path),
                    Line::Revision { revision } => index.revision = Some(revision),
                    Line::Follows { .. } => {
                        must_fold = true;
                        break;
                    }
                }
                applied += 1;
            }
            if applied > 0 {
                tracing::debug!(lines = applied, "index log replayed");
            }
        }
        Some(Line::Follows { generation }) => {
            tracing::debug!(
                generation,
                snapshot = index.generation,
                "index log precedes the snapshot; it is already folded in"
            );
            must_fold = true;
        }
        // An empty or unreadable log, or none.
        _ => must_fold = true,
    }
    if !intact {
        tracing::warn!(path = %log.display(), "index log ends in a torn or corrupt line; ignoring it and what follows");
    }
    let revision = index.revision;
    let journal = index.journal_mut();
    journal.logged_revision = revision;
    journal.log_bytes = bytes.len() as u64;
    journal.snapshot_bytes = snapshot_bytes;
    journal.must_fold = must_fold;
}

/// The lines of `bytes` up to the first that is incomplete, fails its
/// checksum or does not parse; and whether every byte was such a line.
fn complete_lines(bytes: &[u8]) -> (Vec<Line>, bool) {
    let mut lines = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|byte| *byte == b'\n') else {
            return (lines, false);
        };
        let Some(line) = decode(&rest[..end]) else {
            return (lines, false);
        };
        lines.push(line);
        rest = &rest[end + 1..];
    }
    (lines, true)
}

/// `<checksum> <json>` → the line, if the checksum matches.
fn decode(text: &[u8]) -> Option<Line> {
    if text.len() <= CHECKSUM_HEX || text[CHECKSUM_HEX] != b' ' {
        return None;
    }
    let (checksum, json) = (&text[..CHECKSUM_HEX], &text[CHECKSUM_HEX + 1..]);
    if checksum != checksum_of(json).as_bytes() {
        return None;
    }
    serde_json::from_slice(json).ok()
}

fn checksum_of(json: &[u8]) -> String {
    hex::encode(&Sha256::digest(json)[..CHECKSUM_HEX / 2])
}

fn push_line(encoded: &mut Vec<u8>, line: &Line) -> io::Result<()> {
    let json = serde_json::to_vec(line).map_err(io::Error::other)?;
    encoded.extend_from_slice(checksum_of(&json).as_bytes());
    encoded.push(b' ');
    encoded.extend_from_slice(&json);
    encoded.push(b'\n');
    Ok(())
}

/// Puts what changed since the last save on disk: appended to the log, or
/// folded into a new snapshot when the log has grown, cannot take appends,
/// or `durable` asks for an fsync.
pub fn persist(index: &mut Index, durable: bool) -> io::Result<()> {
    let mut encoded = Vec::new();
    for path in &index.journal().touched {
        let line = match index.files.get(path) {
            Some(entry) => Line::Record {
                path: path.clone(),
                sha256: entry.sha256.to_hex(),
                stamp: entry.stamp,
            },
            None => Line::Forget { path: path.clone() },
        };
        push_line(&mut encoded, &line)?;
    }
    if let Some(revision) = index.revision
        && index.journal().logged_revision != Some(revision)
    {
        push_line(&mut encoded, &Line::Revision { revision })?;
    }
    let journal = index.journal();
    let limit = journal.snapshot_bytes.max(MIN_LOG_BYTES);
    let no_snapshot = journal.snapshot_bytes == 0;
    if durable
        || no_snapshot
        || journal.must_fold
        || journal.log_bytes + encoded.len() as u64 > limit
    {
        return compact(index, durable);
    }
    if encoded.is_empty() {
        return Ok(());
    }
    let log = index.location().with_extension("log");
    // Never `create`: a log made here would lack its first line.
    let appended = fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut file| file.write_all(&encoded));
    if let Err(error) = appended {
        // Part of the lines may be on disk: the next save folds.
        index.journal_mut().must_fold = true;
        return Err(error);
    }
    let revision = index.revision;
    let journal = index.journal_mut();
    journal.log_bytes += encoded.len() as u64;
    journal.logged_revision = revision;
    journal.touched = HashSet::new();
    Ok(())
}

/// A new snapshot of the next generation (fsynced when `durable`), then a
/// log that follows it.
fn compact(index: &mut Index, durable: bool) -> io::Result<()> {
    index.pack();
    index.generation += 1;
    let bytes = serde_json::to_vec(&*index).map_err(io::Error::other)?;
    let location = index.location().to_path_buf();
    let written = fsio::write_then_rename(&location, &bytes, durable).and_then(|()| {
        let mut header = Vec::new();
        push_line(
            &mut header,
            &Line::Follows {
                generation: index.generation,
            },
        )?;
        let mut log = fs::File::create(location.with_extension("log"))?;
        log.write_all(&header)?;
        if durable {
            log.sync_all()?;
        }
        Ok(header.len() as u64)
    });
    let log_bytes = match written {
        Ok(log_bytes) => log_bytes,
        Err(error) => {
            index.journal_mut().must_fold = true;
            return Err(error);
        }
    };
    let revision = index.revision;
    let journal = index.journal_mut();
    journal.log_bytes = log_bytes;
    journal.snapshot_bytes = bytes.len() as u64;
    journal.logged_revision = revision;
    journal.must_fold = false;
    // A fresh set: the one a large initial sync filled gives its memory back.
    journal.touched = HashSet::new();
    Ok(())
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
