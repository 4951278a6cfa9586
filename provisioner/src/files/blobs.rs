//! `POST /blobs`: several blobs back to back, in the order asked, streamed
//! as the store reads them.
//!
//! The store reads blobs in its index's order (ascending sha256), one
//! statement for many, so a request is cut into its ascending runs and each
//! run is one read. The daemon asks for each batch in sha256 order, so a
//! batch is one run and one statement; a request in any other order (an
//! older client, a hash asked twice) is still answered in its own order,
//! with one statement per run.

use std::ops::Range;

use futures::stream::{self, BoxStream, StreamExt};
use sync_protocol::{AppId, MAX_BLOBS_PER_BATCH};

use super::{FilesError, FilesService, check_sha256};
use crate::store::BlobStream;

/// Several blobs streamed back to back, in the order asked.
pub struct BlobBatch {
    pub total_bytes: u64,
    pub stream: BoxStream<'static, Result<bytes::Bytes, FilesError>>,
}

impl FilesService {
    /// Checks every hash first (so a refusal comes before any byte is sent),
    /// then streams the blobs, a few in memory at a time.
    #[tracing::instrument(skip_all, fields(app_id = %app_id, blobs = sha256s.len()))]
    pub async fn blob_batch(
        &self,
        app_id: &AppId,
        sha256s: Vec<String>,
    ) -> Result<BlobBatch, FilesError> {
        if sha256s.len() > MAX_BLOBS_PER_BATCH {
            return Err(FilesError::TooManyBlobs(sha256s.len()));
        }
        for sha256 in &sha256s {
            check_sha256(sha256)?;
        }
        let sizes: std::collections::HashMap<String, u64> = self
            .store
            .referenced_blobs(app_id, &sha256s)
            .await?
            .into_iter()
            .collect();
        let mut total_bytes = 0;
        for sha256 in &sha256s {
            match sizes.get(sha256) {
                Some(size) => total_bytes += size,
                None => {
                    return Err(FilesError::BlobNotFound {
                        sha256: sha256.clone(),
                    });
                }
            }
        }
        let store = self.store.clone();
        let app_id = app_id.clone();
        // Each run's statement starts when the run before it is sent.
        let stream = stream::iter(ascending_runs(&sha256s))
            .flat_map(move |run| {
                let expected = sha256s[run].to_vec();
                let blobs = store.read_blobs(&app_id, &expected);
                in_order(expected, blobs)
            })
            .boxed();
        Ok(BlobBatch {
            total_bytes,
            stream,
        })
    }
}

/// Cuts `sha256s` into maximal runs of strictly ascending hashes.
pub(crate) fn ascending_runs(sha256s: &[String]) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for position in 1..=sha256s.len() {
        if position == sha256s.len() || sha256s[position] <= sha256s[position - 1] {
            runs.push(start..position);
            start = position;
        }
    }
    runs
}

/// The content of each of `expected`, in order: a blob the store did not
/// yield (removed since the sizes were read) ends the stream with its
/// error, and the client, short of bytes, asks again.
fn in_order(
    expected: Vec<String>,
    blobs: BlobStream,
) -> BoxStream<'static, Result<bytes::Bytes, FilesError>> {
    stream::unfold(Some((expected.into_iter(), blobs)), |state| async move {
        let (mut expected, mut blobs) = state?;
        let sha256 = expected.next()?;
        match blobs.next().await {
            Some(Ok(blob)) if blob.sha256 == sha256 => {
                Some((Ok(blob.bytes), Some((expected, blobs))))
            }
            Some(Err(error)) => Some((Err(error.into()), None)),
            Some(Ok(_)) | None => Some((Err(FilesError::BlobNotFound { sha256 }), None)),
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::store::{Blob, StoreError};

    fn hashes(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    /// A case: its name, the hashes asked, the runs expected as (start, end).
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [(usize, usize)],
    );

    #[test]
    fn a_request_is_cut_into_its_strictly_ascending_runs() {
        let cases: &[Case] = &[
            ("nothing", &[], &[]),
            ("one", &["a"], &[(0, 1)]),
            ("sorted: one run", &["a", "b", "c"], &[(0, 3)]),
            (
                "descending: one each",
                &["c", "b", "a"],
                &[(0, 1), (1, 2), (2, 3)],
            ),
            ("a hash twice", &["a", "b", "b", "c"], &[(0, 2), (2, 4)]),
            ("two runs", &["b", "c", "a", "d"], &[(0, 2), (2, 4)]),
        ];
        for (case, names, expected) in cases {
            let runs: Vec<(usize, usize)> = ascending_runs(&hashes(names))
                .into_iter()
                .map(|run| (run.start, run.end))
                .collect();
            assert_eq!(runs, *expected, "{case}");
        }
    }

    fn yielded(names: &[&str]) -> BlobStream {
        let blobs: Vec<Result<Blob, StoreError>> = names
            .iter()
            .map(|name| {
                Ok(Blob {
                    sha256: (*name).to_owned(),
                    bytes: Bytes::from(name.to_uppercase()),
                })
            })
            .collect();
        stream::iter(blobs).boxed()
    }

    async fn outcome(expected: &[&str], stored: &[&str]) -> Vec<Result<String, String>> {
        in_order(hashes(expected), yielded(stored))
            .map(|item| match item {
                Ok(bytes) => Ok(String::from_utf8(bytes.to_vec()).unwrap()),
                Err(FilesError::BlobNotFound { sha256 }) => Err(sha256),
                Err(other) => Err(other.to_string()),
            })
            .collect()
            .await
    }

    #[tokio::test]
    async fn a_blob_missing_from_the_read_ends_the_body_at_that_blob() {
        assert_eq!(
            outcome(&["a", "b"], &["a", "b"]).await,
            [Ok("A".into()), Ok("B".into())]
        );
        assert_eq!(
            outcome(&["a", "b", "c"], &["a", "c"]).await,
            [Ok("A".into()), Err("b".into())]
        );
        assert_eq!(
            outcome(&["a", "b"], &["a"]).await,
            [Ok("A".into()), Err("b".into())]
        );
        assert_eq!(
            outcome(&[], &["a"]).await,
            Vec::<Result<String, String>>::new()
        );
    }
}
