//! How the index reaches the disk: a snapshot (`index.json`) and an
//! append-only log of what changed since (`index.log`, one JSON line a
//! change), so a cycle that writes one file appends one line (about 200
//! bytes) instead of rewriting the whole index (2 MB for 10,000 files).
//!
//! The log is folded into a new snapshot when it outgrows the last one (or
//! [`MIN_LOG_BYTES`]), when there is no snapshot yet, and on every fsynced
//! save: the snapshot is written
//! beside and renamed over, then the log is emptied. A daemon killed
//! between the two replays a log whose every line the snapshot already
//! holds; a line sets or removes one path's entry outright, so replaying it
//! again changes nothing. Loading stops at the first line that does not
//! parse (a line torn by a power loss), which leaves a stale cache, as
//! [`Index::save_unsynced`] describes.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use sync_protocol::FilePath;

use crate::fsio::{self, Stamp};
use crate::index::Index;

/// The log may grow to this size before it is folded, however small the
/// snapshot.
pub const MIN_LOG_BYTES: u64 = 64 * 1024;

/// What the index changed since it last reached the disk.
#[derive(Debug, Default)]
pub struct Journal {
    touched: HashSet<FilePath>,
    logged_revision: Option<u64>,
    log_bytes: u64,
    snapshot_bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Line {
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

/// Applies `<index>.log` to a freshly loaded snapshot of `snapshot_bytes`.
pub fn replay(index: &mut Index, snapshot_bytes: u64) {
    let log = index.location().with_extension("log");
    let bytes = fs::read(&log).unwrap_or_default();
    let mut applied = 0;
    for line in bytes
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        match serde_json::from_slice::<Line>(line) {
            Ok(Line::Record {
                path,
                sha256,
                stamp,
            }) => index.insert_entry(path, sha256, stamp),
            Ok(Line::Forget { path }) => index.remove_entry(&path),
            Ok(Line::Revision { revision }) => index.revision = Some(revision),
            Err(error) => {
                tracing::warn!(path = %log.display(), %error, "index log ends in a torn line; ignoring the rest");
                break;
            }
        }
        applied += 1;
    }
    if applied > 0 {
        tracing::debug!(lines = applied, "index log replayed");
    }
    let revision = index.revision;
    let journal = index.journal_mut();
    journal.logged_revision = revision;
    journal.log_bytes = bytes.len() as u64;
    journal.snapshot_bytes = snapshot_bytes;
}

/// Puts what changed since the last save on disk: appended to the log, or
/// folded into a new snapshot when the log has grown or `durable` asks for
/// an fsync.
pub fn persist(index: &mut Index, durable: bool) -> io::Result<()> {
    let mut encoded = Vec::new();
    for path in &index.journal().touched {
        let line = match index.files.get(path) {
            Some(entry) => Line::Record {
                path: path.clone(),
                sha256: entry.sha256.clone(),
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
    if durable || no_snapshot || journal.log_bytes + encoded.len() as u64 > limit {
        return compact(index, durable);
    }
    if encoded.is_empty() {
        return Ok(());
    }
    let log = index.location().with_extension("log");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    file.write_all(&encoded)?;
    let revision = index.revision;
    let journal = index.journal_mut();
    journal.log_bytes += encoded.len() as u64;
    journal.logged_revision = revision;
    journal.touched = HashSet::new();
    Ok(())
}

fn push_line(encoded: &mut Vec<u8>, line: &Line) -> io::Result<()> {
    serde_json::to_writer(&mut *encoded, line).map_err(io::Error::other)?;
    encoded.push(b'\n');
    Ok(())
}

/// A new snapshot (fsynced when `durable`), then an empty log.
fn compact(index: &mut Index, durable: bool) -> io::Result<()> {
    let bytes = serde_json::to_vec(&*index).map_err(io::Error::other)?;
    let location = index.location().to_path_buf();
    if durable {
        fsio::write_atomically(&location, &bytes)?;
    } else {
        let temporary = location.with_extension("tmp");
        fs::write(&temporary, &bytes)?;
        fs::rename(&temporary, &location)?;
    }
    let log = fs::File::create(location.with_extension("log"))?;
    if durable {
        log.sync_all()?;
    }
    let revision = index.revision;
    let journal = index.journal_mut();
    journal.log_bytes = 0;
    journal.snapshot_bytes = bytes.len() as u64;
    journal.logged_revision = revision;
    // A fresh set: the one a large initial sync filled gives its memory back.
    journal.touched = HashSet::new();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> FilePath {
        FilePath::parse(text).unwrap()
    }

    const STAMP: Stamp = Stamp {
        size: 1,
        mtime_ns: 2,
        ino: 3,
        ctime_ns: 4,
    };

    /// An index of `count` files, saved durably (a snapshot, an empty log).
    fn saved(state: &std::path::Path, count: usize) -> Index {
        let mut index = Index::load(state).unwrap();
        for number in 0..count {
            index.record(
                path(&format!("dir/file-{number}.ts")),
                "a".repeat(64),
                STAMP,
            );
        }
        index.revision = Some(1);
        index.save().unwrap();
        index
    }

    fn log_length(state: &std::path::Path) -> u64 {
        fs::metadata(state.join("index.log")).map_or(0, |m| m.len())
    }

    #[test]
    fn a_one_file_change_appends_bytes_proportional_to_the_change() {
        let state = tempfile::tempdir().unwrap();
        let mut index = saved(state.path(), 2_000);
        let snapshot = fs::read(state.path().join("index.json")).unwrap();
        assert_eq!(log_length(state.path()), 0);

        index.record(path("dir/file-7.ts"), "b".repeat(64), STAMP);
        index.forget(&path("dir/file-8.ts"));
        index.revision = Some(2);
        index.save_unsynced().unwrap();

        assert_eq!(
            fs::read(state.path().join("index.json")).unwrap(),
            snapshot,
            "the snapshot is untouched"
        );
        let appended = log_length(state.path());
        assert!(
            appended > 0 && appended < 400,
            "{appended} bytes for two changes"
        );
        let loaded = Index::load(state.path()).unwrap();
        assert_eq!(loaded.revision, Some(2));
        assert_eq!(loaded.files[&path("dir/file-7.ts")].sha256, "b".repeat(64));
        assert!(!loaded.owns(&path("dir/file-8.ts")));
        assert_eq!(loaded.files.len(), 1_999);

        // Nothing changed since: nothing is written.
        index.save_unsynced().unwrap();
        assert_eq!(log_length(state.path()), appended);
    }

    #[test]
    fn the_log_is_folded_into_a_snapshot_when_it_outgrows_it_and_on_a_durable_save() {
        let state = tempfile::tempdir().unwrap();
        let mut index = saved(state.path(), 10);
        for round in 0..2_000u64 {
            index.record(
                path(&format!("dir/file-{}.ts", round % 10)),
                format!("{round:064}"),
                STAMP,
            );
            index.revision = Some(round + 2);
            index.save_unsynced().unwrap();
            assert!(log_length(state.path()) <= MIN_LOG_BYTES, "round {round}");
        }
        let loaded = Index::load(state.path()).unwrap();
        assert_eq!(loaded.revision, Some(2_001));
        assert_eq!(
            loaded.files[&path("dir/file-9.ts")].sha256,
            format!("{:064}", 1_999)
        );

        index.record(path("dir/late.ts"), "c".repeat(64), STAMP);
        index.save().unwrap();
        assert_eq!(
            log_length(state.path()),
            0,
            "a durable save leaves everything in the snapshot"
        );
        assert!(
            Index::load(state.path())
                .unwrap()
                .owns(&path("dir/late.ts"))
        );
    }

    #[test]
    fn the_first_save_makes_a_snapshot() {
        let state = tempfile::tempdir().unwrap();
        let mut index = Index::load(state.path()).unwrap();
        index.record(path("a.ts"), "a".repeat(64), STAMP);
        index.save_unsynced().unwrap();
        assert!(state.path().join("index.json").is_file());
        assert_eq!(log_length(state.path()), 0);
    }

    #[test]
    fn a_torn_last_line_and_a_log_replayed_twice_are_harmless() {
        let state = tempfile::tempdir().unwrap();
        let mut index = saved(state.path(), 3);
        index.record(path("dir/new.ts"), "d".repeat(64), STAMP);
        index.forget(&path("dir/file-0.ts"));
        index.save_unsynced().unwrap();
        let log = fs::read(state.path().join("index.log")).unwrap();

        // A power loss tore the next line in half.
        let mut torn = log.clone();
        torn.extend_from_slice(br#"{"forget":{"path":"dir/fi"#);
        fs::write(state.path().join("index.log"), &torn).unwrap();
        let loaded = Index::load(state.path()).unwrap();
        assert!(loaded.owns(&path("dir/new.ts")) && !loaded.owns(&path("dir/file-0.ts")));
        assert!(loaded.owns(&path("dir/file-1.ts")));

        // Killed between a new snapshot and emptying the log: the old lines
        // replay onto a snapshot that already holds them.
        index.save().unwrap();
        fs::write(state.path().join("index.log"), &log).unwrap();
        let replayed = Index::load(state.path()).unwrap();
        assert_eq!(replayed.files, index.files);
    }
}
