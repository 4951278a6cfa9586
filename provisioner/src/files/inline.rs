//! Small contents carried in a delta answer (`inline=true`), so a daemon
//! puts a saved file on disk after one request instead of two (the blob
//! `GET` was a second round trip on the save path, issue 13). Bounded per
//! file and per answer; anything left out is downloaded as before, and the
//! client verifies every content against its sha256 either way.

use std::collections::HashSet;

use base64::Engine;
use futures::TryStreamExt;
use sync_protocol::{AppId, FileEntry, InlineContent, MAX_INLINE_BYTES, MAX_INLINE_FILE_BYTES};

use super::{FilesError, FilesService, WrittenChanges};
use crate::store::Blob;

impl FilesService {
    /// The contents [`inline_choice`] picks from a delta's `files`: those
    /// the write that made the delta kept, or else read in one statement
    /// (a blob the app no longer references, replaced since, is left out).
    pub async fn inline_contents(
        &self,
        app_id: &AppId,
        files: &[FileEntry],
        written: Option<&WrittenChanges>,
    ) -> Result<Vec<InlineContent>, FilesError> {
        if let Some(written) = written {
            return Ok(super::carried::inline_contents(written));
        }
        let mut sha256s: Vec<String> = inline_choice(files)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if sha256s.is_empty() {
            return Ok(Vec::new());
        }
        // `read_blobs` reads an ascending run of hashes.
        sha256s.sort_unstable();
        let blobs: Vec<Blob> = self
            .store
            .read_blobs(app_id, &sha256s)
            .try_collect()
            .await?;
        Ok(blobs
            .into_iter()
            .map(|blob| InlineContent {
                content_base64: base64::engine::general_purpose::STANDARD.encode(&blob.bytes),
                sha256: blob.sha256,
            })
            .collect())
    }
}

/// Which contents a delta carries: distinct hashes of files of at most
/// [`MAX_INLINE_FILE_BYTES`], in the delta's order, while the total stays
/// within [`MAX_INLINE_BYTES`].
pub(crate) fn inline_choice(files: &[FileEntry]) -> Vec<&str> {
    let mut chosen = Vec::new();
    let mut seen = HashSet::new();
    let mut total = 0;
    for entry in files {
        if entry.size > MAX_INLINE_FILE_BYTES || total + entry.size > MAX_INLINE_BYTES {
            continue;
        }
        if seen.insert(entry.sha256.as_str()) {
            total += entry.size;
            chosen.push(entry.sha256.as_str());
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use sync_protocol::FilePath;

    use super::*;

    fn entry(sha256: &str, size: u64) -> FileEntry {
        FileEntry {
            path: FilePath::parse(&format!("{sha256}.txt")).unwrap(),
            sha256: sha256.to_owned(),
            size,
        }
    }

    #[test]
    fn a_delta_carries_small_contents_once_each_within_its_bounds() {
        const KIB: u64 = 1024;
        let cases: Vec<(&str, Vec<FileEntry>, Vec<&str>)> = vec![
            ("nothing", vec![], vec![]),
            ("a small file", vec![entry("a", 20)], vec!["a"]),
            ("an empty file", vec![entry("a", 0)], vec!["a"]),
            (
                "a file at the per-file bound",
                vec![entry("a", MAX_INLINE_FILE_BYTES)],
                vec!["a"],
            ),
            (
                "a file over the per-file bound is downloaded",
                vec![entry("a", MAX_INLINE_FILE_BYTES + 1), entry("b", 1)],
                vec!["b"],
            ),
            (
                "the same content twice is carried once",
                vec![entry("a", 5), entry("a", 5)],
                vec!["a"],
            ),
            (
                "past the answer's bound the rest is downloaded; smaller ones still fit",
                vec![
                    entry("a", 16 * KIB),
                    entry("b", 16 * KIB),
                    entry("c", 16 * KIB),
                    entry("d", 16 * KIB),
                    entry("e", 16 * KIB),
                    entry("f", 0),
                ],
                vec!["a", "b", "c", "d", "f"],
            ),
        ];
        for (case, files, expected) in cases {
            assert_eq!(inline_choice(&files), expected, "{case}");
        }
    }
}
