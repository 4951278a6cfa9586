//! A write's own delta, carried to the long-polls it wakes.
//!
//! A long-poll one revision behind is answered with exactly what the write
//! that woke it changed, and the write knows that already: its paths,
//! hashes and sizes, and the bytes of its small files. Answering from the
//! store took about seven statements (the revision, a read transaction of
//! three, the inline contents) between the commit and the daemon's answer,
//! on the path of every save (issue 13). A wait that is more than one
//! revision behind, or woken by a write made elsewhere (another instance),
//! reads the store as before.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine;
use sync_protocol::InlineContent;

use super::inline::inline_choice;
use crate::store::{Blob, Changes, FileChange, RevisionDelta};

/// The most paths a write's delta may name to be carried: the last write of
/// every watched app stays in memory until the next one, so a large batch
/// (an import, an initial upload) is left to the store to answer. A save
/// names a few paths.
pub const MAX_CARRIED_PATHS: usize = 256;

/// An app's latest revision, with what it changed when this process made it.
#[derive(Clone, Debug, Default)]
pub struct Published {
    pub revision: u64,
    pub changes: Option<Arc<WrittenChanges>>,
}

/// What one revision changed, from the write that made it.
#[derive(Debug)]
pub struct WrittenChanges {
    pub delta: RevisionDelta,
    /// The contents an inline answer carries ([`inline_choice`] of the
    /// delta's files), by sha256.
    pub contents: Vec<Blob>,
}

impl WrittenChanges {
    /// The delta and the inline contents, the latter taken from the write's
    /// own changes (only small ones); `None` for a delta naming more than
    /// [`MAX_CARRIED_PATHS`] paths.
    pub fn of(delta: RevisionDelta, changes: &[FileChange]) -> Option<WrittenChanges> {
        if delta.files.len() + delta.deleted.len() > MAX_CARRIED_PATHS {
            return None;
        }
        let chosen: HashSet<&str> = inline_choice(&delta.files).into_iter().collect();
        let mut taken = HashSet::new();
        let mut contents: Vec<Blob> = changes
            .iter()
            .filter_map(|change| change.content.as_ref())
            .filter(|blob| chosen.contains(blob.sha256.as_str()))
            .filter(|blob| taken.insert(blob.sha256.as_str()))
            .cloned()
            .collect();
        contents.sort_unstable_by(|a, b| a.sha256.cmp(&b.sha256));
        Some(WrittenChanges { delta, contents })
    }
}

impl Published {
    /// The answer to a wait that holds `since`, when this is the revision
    /// right after it and its changes are known: the delta the store would
    /// give (a `since` below the history floor gets the full manifest there,
    /// so it is not answered here).
    pub fn delta_after(&self, since: u64) -> Option<(Changes, Arc<WrittenChanges>)> {
        let changes = self.changes.as_ref()?;
        let delta = &changes.delta;
        if self.revision != since.checked_add(1)? || since < delta.history_floor {
            return None;
        }
        let answer = Changes::Delta {
            revision: self.revision,
            files: delta.files.clone(),
            deleted: delta.deleted.clone(),
        };
        Some((answer, Arc::clone(changes)))
    }
}

/// The inline contents of an answer made from a write's changes, in the
/// order the store's answer gives them.
pub fn inline_contents(changes: &WrittenChanges) -> Vec<InlineContent> {
    changes
        .contents
        .iter()
        .map(|blob| InlineContent {
            content_base64: base64::engine::general_purpose::STANDARD.encode(&blob.bytes),
            sha256: blob.sha256.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use sync_protocol::{FileEntry, FilePath, MAX_INLINE_FILE_BYTES};

    use super::*;

    fn blob(content: &[u8]) -> Blob {
        Blob {
            sha256: sync_protocol::sha256_hex(content),
            bytes: Bytes::copy_from_slice(content),
        }
    }

    fn put(path: &str, content: &Blob) -> FileChange {
        FileChange {
            path: FilePath::parse(path).unwrap(),
            content: Some(content.clone()),
        }
    }

    fn entry(path: &str, content: &Blob) -> FileEntry {
        FileEntry {
            path: FilePath::parse(path).unwrap(),
            sha256: content.sha256.clone(),
            size: content.bytes.len() as u64,
        }
    }

    fn published(revision: u64, history_floor: u64) -> Published {
        let small = blob(b"small");
        let delta = RevisionDelta {
            files: vec![entry("a.txt", &small)],
            deleted: vec![FilePath::parse("gone.txt").unwrap()],
            history_floor,
        };
        Published {
            revision,
            changes: WrittenChanges::of(delta, &[put("a.txt", &small)]).map(Arc::new),
        }
    }

    #[test]
    fn only_a_wait_one_revision_behind_and_within_the_history_is_answered_from_the_write() {
        let cases = [
            ("one behind", published(5, 0), 4, true),
            (
                "two behind: the revision in between is not known",
                published(5, 0),
                3,
                false,
            ),
            ("already there", published(5, 0), 5, false),
            ("below the history floor", published(5, 5), 4, false),
            (
                "made elsewhere: no changes known",
                Published {
                    revision: 5,
                    changes: None,
                },
                4,
                false,
            ),
        ];
        for (case, published, since, answered) in cases {
            let answer = published.delta_after(since);
            assert_eq!(answer.is_some(), answered, "{case}");
            if let Some((
                Changes::Delta {
                    revision,
                    files,
                    deleted,
                },
                _,
            )) = answer
            {
                assert_eq!(revision, 5, "{case}");
                assert_eq!(files.len(), 1, "{case}");
                assert_eq!(deleted.len(), 1, "{case}");
            }
        }
    }

    #[test]
    fn a_write_naming_more_paths_than_are_carried_is_left_to_the_store() {
        let content = blob(b"x");
        let delta = |count: usize| RevisionDelta {
            files: (0..count)
                .map(|n| entry(&format!("f{n}.txt"), &content))
                .collect(),
            deleted: vec![FilePath::parse("gone.txt").unwrap()],
            history_floor: 0,
        };
        assert!(WrittenChanges::of(delta(MAX_CARRIED_PATHS - 1), &[]).is_some());
        assert!(WrittenChanges::of(delta(MAX_CARRIED_PATHS), &[]).is_none());
    }

    #[test]
    fn only_small_contents_are_kept_once_each_in_sha256_order() {
        let small = blob(b"small");
        let other = blob(b"other");
        let large = blob(&vec![b'x'; MAX_INLINE_FILE_BYTES as usize + 1]);
        let delta = RevisionDelta {
            files: vec![
                entry("a.txt", &small),
                entry("b.txt", &small),
                entry("c.txt", &large),
                entry("d.txt", &other),
            ],
            deleted: Vec::new(),
            history_floor: 0,
        };
        let changes = [
            put("a.txt", &small),
            put("b.txt", &small),
            put("c.txt", &large),
            put("d.txt", &other),
        ];
        let written = WrittenChanges::of(delta, &changes).unwrap();
        let mut expected = vec![small.sha256.clone(), other.sha256.clone()];
        expected.sort();
        let kept: Vec<&str> = written.contents.iter().map(|b| b.sha256.as_str()).collect();
        assert_eq!(kept, expected);
        let inline = inline_contents(&written);
        assert_eq!(inline.len(), 2);
    }
}
