//! The daemon's memory of the tree: every file it wrote (or found already
//! byte-identical to the manifest), with the sha256 it has and the inode
//! [`Stamp`] it had then. Persisted as `<state-dir>/index.json` and the
//! log of changes since, `index.log` ([`crate::journal`]).
//!
//! Two jobs. It lets a cycle learn a file's sha256 from one `lstat`
//! instead of reading it, and it is the record of ownership: the daemon
//! deletes only paths listed here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sync_protocol::FilePath;

use crate::digest::Digest;
use crate::error::CriticalError;
use crate::fsio::{self, Stamp};
use crate::journal::{self, Journal};
use crate::plan::Ownership;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    /// The last files revision fully applied.
    pub revision: Option<u64>,
    pub files: BTreeMap<FilePath, Entry>,
    /// Counts snapshots: the log names the one it follows ([`journal`]).
    #[serde(default)]
    pub(crate) generation: u64,
    /// Paths the watcher saw change behind the daemon's back: their stamp is
    /// not trusted until they are hashed again.
    #[serde(skip)]
    dirty: HashSet<FilePath>,
    #[serde(skip)]
    location: PathBuf,
    #[serde(skip)]
    journal: Journal,
    /// Entries recorded or forgotten since they were last packed
    /// ([`Index::pack_after_churn`]).
    #[serde(skip)]
    changes_since_pack: usize,
}

/// Changes after which a save packs the entries.
const PACK_AFTER_CHANGES: usize = 1_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub sha256: Digest,
    pub stamp: Stamp,
}

impl Index {
    /// Loads `<state_dir>/index.json`; a missing or unreadable index means
    /// starting afresh (the first cycle hashes what is on disk).
    pub fn load(state_dir: &Path) -> Result<Index, CriticalError> {
        let location = state_dir.join("index.json");
        let mut snapshot_bytes = 0;
        let mut index = match fs::read(&location) {
            Ok(bytes) => serde_json::from_slice(&bytes).inspect(|_| snapshot_bytes = bytes.len() as u64).unwrap_or_else(|error| {
                tracing::warn!(path = %location.display(), %error, "index is unreadable; starting afresh");
                Index::default()
            }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Index::default(),
            Err(source) => return Err(CriticalError::Io { path: location, source }),
        };
        index.location = location;
        journal::replay(&mut index, snapshot_bytes);
        index.pack();
        remove_leftover_snapshots(state_dir);
        Ok(index)
    }

    /// Rebuilds the map from its sorted entries, which fills its nodes: one
    /// grown an insert at a time (loading, a sync) keeps them about half
    /// full, so the idle daemon held about twice the memory its 10,000
    /// entries need (bench/README.md). Done after loading and with each
    /// snapshot ([`journal`]), that is after large changes, not per save.
    pub(crate) fn pack(&mut self) {
        self.files = std::mem::take(&mut self.files).into_iter().collect();
    }

    /// Writes a new snapshot and fsyncs it: for shutdown and failed cycles.
    pub fn save(&mut self) -> io::Result<()> {
        journal::persist(self, true)
    }

    /// Appends what changed since the last save to the log ([`journal`]
    /// says when it is folded into a new snapshot), without fsync: the sync
    /// loop's save after applied cycles, where a 2 MB fsync per save sat in
    /// the latency tail.
    ///
    /// The index is a cache, so this is safe. Without the fsync only a
    /// kernel crash or power loss (not a killed daemon: the page cache
    /// survives it) can leave the previous index, a truncated snapshot or a
    /// torn log line. An unparsable snapshot loads as an empty index
    /// ([`Index::load`]); replay stops at a torn line.
    /// A previous one is a stale cache: the first cycle after a start is
    /// always a full resync, which `lstat`s every manifest path and trusts
    /// an entry's sha256 only if its whole [`Stamp`] (size, mtime, inode,
    /// ctime, in ns) still matches ([`Index::sha256_of`]); every later write
    /// renamed a new inode into place and changed the ctime, so it does not,
    /// and the file is hashed again. What a stale index can get wrong is
    /// ownership, as a daemon killed between a cycle's renames and its save
    /// always could: a file written since is unknown to it (adopted if
    /// identical, copied to `displaced/` and replaced if not, left in place
    /// if the manifest drops it), and a file deleted since is still listed
    /// (a local file made at that path meanwhile would be taken for the
    /// daemon's and deleted).
    pub fn save_unsynced(&mut self) -> io::Result<()> {
        journal::persist(self, false)
    }

    /// After many changes since the last time (an initial sync), packs the
    /// entries as [`Index::pack`] does and copies their paths too: those of
    /// a sync were allocated while its manifest was parsed, between the many
    /// blocks the cycle frees, and each kept a page of the heap from going
    /// back to the system; copied once that memory is free, the old ones are
    /// freed together (the 3 s poll daemon's idle heap: 5.25 -> 5.13 MiB,
    /// bench/README.md). Answers whether it did.
    pub fn pack_after_churn(&mut self) -> bool {
        if self.changes_since_pack < PACK_AFTER_CHANGES {
            return false;
        }
        self.changes_since_pack = 0;
        let scattered = std::mem::take(&mut self.files);
        self.files = scattered
            .iter()
            .map(|(path, entry)| (path.clone(), entry.clone()))
            .collect();
        true
    }

    pub fn location(&self) -> &Path {
        &self.location
    }

    /// The sha256 of the file at `target` (already `lstat`ed as
    /// `metadata`): from the index when its stamp still matches, otherwise
    /// by reading the file.
    pub fn sha256_of(
        &self,
        path: &FilePath,
        target: &Path,
        metadata: &fs::Metadata,
    ) -> io::Result<String> {
        if let Some(entry) = self.files.get(path)
            && !self.dirty.contains(path)
            && entry.stamp == Stamp::of(metadata)
        {
            return Ok(entry.sha256.to_hex());
        }
        Ok(fsio::hash_file(target)?.0)
    }

    pub fn record(&mut self, path: FilePath, sha256: String, stamp: Stamp) {
        self.changes_since_pack += 1;
        self.dirty.remove(&path);
        self.journal.touch(&path);
        self.insert_entry(path, &sha256, stamp);
    }

    pub fn forget(&mut self, path: &FilePath) {
        self.changes_since_pack += 1;
        self.dirty.remove(path);
        self.journal.touch(path);
        self.remove_entry(path);
    }

    /// Sets an entry without journaling it (a log being replayed). A
    /// sha256 that is not one (never from this daemon's own hashing or a
    /// checked manifest) leaves the path unowned, so it is never deleted.
    pub(crate) fn insert_entry(&mut self, path: FilePath, sha256: &str, stamp: Stamp) {
        match Digest::parse(sha256) {
            Some(sha256) => drop(self.files.insert(path, Entry { sha256, stamp })),
            None => {
                tracing::warn!(%path, sha256, "not a sha256; not recording the path as the daemon's");
                self.files.remove(&path);
            }
        }
    }

    pub(crate) fn remove_entry(&mut self, path: &FilePath) {
        self.files.remove(path);
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.journal
    }

    pub(crate) fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }

    pub fn owns(&self, path: &FilePath) -> bool {
        self.files.contains_key(path)
    }

    /// Called for a watcher event on `path`: if the file on disk no longer
    /// has the stamp the daemon left, the path is marked dirty. Returns
    /// whether it was (an event for the daemon's own rename is not).
    pub fn invalidate_if_changed(&mut self, path: &FilePath, target: &Path) -> bool {
        let Some(entry) = self.files.get(path) else {
            return false;
        };
        let unchanged = fs::symlink_metadata(target).is_ok_and(|m| Stamp::of(&m) == entry.stamp);
        if unchanged {
            return false;
        }
        self.dirty.insert(path.clone())
    }

    /// For each content, a path believed to hold it (not dirty), to copy
    /// from instead of downloading: a rename on the server arrives as a
    /// delete and an add of the same content. Built once per cycle.
    pub fn clean_paths_by_sha256(&self) -> HashMap<Digest, &FilePath> {
        self.files
            .iter()
            .filter(|(path, _)| !self.dirty.contains(*path))
            .map(|(path, entry)| (entry.sha256, path))
            .collect()
    }
}

/// Removes snapshots a killed daemon left half-written beside
/// `index.json` (`index.<random>.tmp`, see [`fsio::write_then_rename`]).
fn remove_leftover_snapshots(state_dir: &Path) {
    let Ok(entries) = fs::read_dir(state_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("index.") && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

impl Ownership for Index {
    fn owned_sha256(&self, path: &FilePath) -> Option<String> {
        self.files.get(path).map(|entry| entry.sha256.to_hex())
    }

    fn owned_paths(&self) -> impl Iterator<Item = &FilePath> {
        self.files.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY_STAMP: Stamp = Stamp {
        size: 1,
        mtime_ns: 2,
        ino: 3,
        ctime_ns: 4,
    };

    fn file_path(text: &str) -> FilePath {
        FilePath::parse(text).unwrap()
    }

    #[test]
    fn a_matching_stamp_answers_without_reading_the_file() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("a.txt");
        fs::write(&target, b"on disk").unwrap();
        let metadata = fs::symlink_metadata(&target).unwrap();
        let mut index = Index::load(state.path()).unwrap();

        // The recorded sha256 is deliberately not the content's: if the
        // index answers it, the file was not read.
        let recorded = sync_protocol::sha256_hex(b"recorded");
        index.record(file_path("a.txt"), recorded.clone(), Stamp::of(&metadata));
        assert_eq!(
            index
                .sha256_of(&file_path("a.txt"), &target, &metadata)
                .unwrap(),
            recorded
        );

        // Once dirty, the file is read again.
        fs::write(&target, b"edited").unwrap();
        assert!(index.invalidate_if_changed(&file_path("a.txt"), &target));
        let metadata = fs::symlink_metadata(&target).unwrap();
        assert_eq!(
            index
                .sha256_of(&file_path("a.txt"), &target, &metadata)
                .unwrap(),
            sync_protocol::sha256_hex(b"edited")
        );
    }

    #[test]
    fn an_unchanged_file_is_not_invalidated_by_an_event() {
        let state = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("a.txt");
        fs::write(&target, b"x").unwrap();
        let mut index = Index::load(state.path()).unwrap();
        let stamp = Stamp::of(&fs::symlink_metadata(&target).unwrap());
        index.record(file_path("a.txt"), sync_protocol::sha256_hex(b"x"), stamp);
        assert!(!index.invalidate_if_changed(&file_path("a.txt"), &target));
        assert!(!index.invalidate_if_changed(&file_path("untracked.txt"), &target));
        assert_eq!(
            index
                .clean_paths_by_sha256()
                .get(&Digest::parse(&sync_protocol::sha256_hex(b"x")).unwrap()),
            Some(&&file_path("a.txt"))
        );
    }

    #[test]
    fn persists_revision_and_entries() {
        let state = tempfile::tempdir().unwrap();
        let mut index = Index::load(state.path()).unwrap();
        index.revision = Some(42);
        let stamp = ANY_STAMP;
        let sha256 = sync_protocol::sha256_hex(b"f");
        index.record(file_path("dir/f"), sha256.clone(), stamp);
        index.save().unwrap();

        let loaded = Index::load(state.path()).unwrap();
        assert_eq!(loaded.revision, Some(42));
        assert_eq!(
            loaded.files[&file_path("dir/f")],
            Entry {
                sha256: Digest::parse(&sha256).unwrap(),
                stamp
            }
        );

        fs::write(state.path().join("index.json"), b"{not json").unwrap();
        assert!(Index::load(state.path()).unwrap().files.is_empty());
    }

    #[test]
    fn packing_keeps_every_entry_and_the_journal() {
        let state = tempfile::tempdir().unwrap();
        let mut index = Index::load(state.path()).unwrap();
        for n in 0..100u64 {
            let stamp = Stamp {
                size: n,
                mtime_ns: 2,
                ino: n,
                ctime_ns: 4,
            };
            let path = file_path(&format!("d{}/f{n}", n % 7));
            index.record(path, sync_protocol::sha256_hex(&n.to_le_bytes()), stamp);
        }
        index.forget(&file_path("d0/f0"));
        let before = index.files.clone();
        index.pack();
        assert_eq!(index.files, before);
        assert_eq!(index.files.len(), 99);

        // What was recorded before packing still reaches the next load.
        index.save_unsynced().unwrap();
        assert_eq!(Index::load(state.path()).unwrap().files, before);
    }

    #[test]
    fn a_save_packs_the_entries_after_a_thousand_changes_and_not_before() {
        let state = tempfile::tempdir().unwrap();
        let mut index = Index::load(state.path()).unwrap();
        let stamp = ANY_STAMP;
        let record = |index: &mut Index, n: usize| {
            let path = file_path(&format!("f{n}"));
            index.record(path, sync_protocol::sha256_hex(b"x"), stamp);
        };
        for n in 0..PACK_AFTER_CHANGES - 1 {
            record(&mut index, n);
        }
        assert!(!index.pack_after_churn());
        record(&mut index, PACK_AFTER_CHANGES);
        let before = index.files.clone();
        assert!(index.pack_after_churn());
        assert_eq!(index.files, before);
        assert!(!index.pack_after_churn(), "counted afresh");
    }

    #[test]
    fn a_record_without_a_real_sha256_never_makes_a_path_the_daemons() {
        let state = tempfile::tempdir().unwrap();
        let mut index = Index::load(state.path()).unwrap();
        let stamp = ANY_STAMP;
        index.record(file_path("a"), "not a sha256".to_owned(), stamp);
        assert!(!index.owns(&file_path("a")));
        index.record(file_path("b"), sync_protocol::sha256_hex(b"b"), stamp);
        index.record(file_path("b"), "z".repeat(64), stamp);
        assert!(
            !index.owns(&file_path("b")),
            "the bad record replaces the good one"
        );
    }
}
