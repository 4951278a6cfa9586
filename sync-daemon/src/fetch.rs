//! Downloads blobs straight into staging files, hashing while writing, so
//! content is in memory one network chunk at a time and nothing unverified
//! ever reaches the tree.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use reqwest::Response;
use sha2::{Digest, Sha256};
use sync_protocol::MAX_BLOBS_PER_BATCH;

use crate::client::Client;
use crate::early::Early;
use crate::error::{Error, RuntimeError, io_error};
use crate::fsio::CheckedDirs;

/// The most bytes asked for in one batch, so one slow batch does not hold
/// everything up and a retry re-downloads little.
const MAX_BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// How many batches are in flight at once: the server reads the next ones
/// while the daemon writes the files of the first.
const CONCURRENT_BATCHES: usize = 4;

/// A blob to download and where to put it.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub sha256: String,
    pub size: u64,
    pub destination: PathBuf,
    /// The destination is in a graft ([`crate::graft`]): its directories,
    /// all in staging, are made by the writer that first needs them.
    pub in_graft: bool,
}

/// Downloads every wanted blob (distinct hashes) into its destination,
/// batching when there are several, a few batches at a time. Each batch
/// asks in sha256 order, the order the server reads blobs in, so it costs
/// the server one statement. The batches' reads share this task; their
/// writes are on blocking threads (`receive`): inline, they took both of
/// the runtime's worker threads under disk pressure (issue 13 measurements).
///
/// With `early`, each file whose write it expects is placed into the tree
/// by the writing thread as soon as its content is verified.
pub async fn download(
    client: &Client,
    wanted: Vec<Wanted>,
    early: Option<&Arc<Early>>,
) -> Result<(), Error> {
    // Every batch started is awaited, also after a failure (none starts
    // after one): a writer thread left running could still place a file
    // after the cycle counted what was placed.
    let failed = AtomicBool::new(false);
    let failed = &failed;
    let results: Vec<Result<(), Error>> = futures::stream::iter(batches(wanted))
        .map(|batch| async move {
            if failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            let result = download_batch(client, &batch, early).await;
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            result
        })
        .buffer_unordered(CONCURRENT_BATCHES)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn download_batch(
    client: &Client,
    batch: &[Wanted],
    early: Option<&Arc<Early>>,
) -> Result<(), Error> {
    if let [single] = batch {
        return receive(client.blob(&single.sha256).await?, batch, early).await;
    }
    let sha256s: Vec<String> = batch.iter().map(|blob| blob.sha256.clone()).collect();
    match client.blobs(&sha256s).await? {
        Some(response) => receive(response, batch, early).await,
        None => {
            tracing::debug!("server has no batch blob endpoint; fetching one by one");
            for blob in batch {
                let response = client.blob(&blob.sha256).await?;
                receive(response, std::slice::from_ref(blob), early).await?;
            }
            Ok(())
        }
    }
}

/// Sorts the wanted blobs by sha256 and splits them into batches of at
/// most [`MAX_BLOBS_PER_BATCH`] blobs and [`MAX_BATCH_BYTES`] bytes (a
/// larger blob goes alone).
fn batches(mut wanted: Vec<Wanted>) -> Vec<Vec<Wanted>> {
    wanted.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    let mut batches: Vec<Vec<Wanted>> = Vec::new();
    let mut current: Vec<Wanted> = Vec::new();
    let mut bytes = 0;
    for blob in wanted {
        let count = current.len();
        if count > 0 && (count == MAX_BLOBS_PER_BATCH || bytes + blob.size > MAX_BATCH_BYTES) {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += blob.size;
        current.push(blob);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// How many body chunks wait for a batch's writer; the read pauses beyond.
const QUEUED_CHUNKS: usize = 16;

/// Receives a body holding `blobs` back to back. The network read stays on
/// this task; the files are written by a blocking thread of their own
/// (one per batch in flight, so at most [`CONCURRENT_BATCHES`]), fed
/// through a bounded queue: writes that stall under disk pressure never
/// hold the runtime's workers, which keep serving the other batches'
/// reads, the long-poll and the gateway.
async fn receive(
    mut response: Response,
    blobs: &[Wanted],
    early: Option<&Arc<Early>>,
) -> Result<(), Error> {
    let (chunks, queued) = tokio::sync::mpsc::channel::<bytes::Bytes>(QUEUED_CHUNKS);
    let owned = blobs.to_vec();
    let early = early.cloned();
    let writer = tokio::task::spawn_blocking(move || write_blobs(queued, &owned, early.as_deref()));
    let read = async {
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| RuntimeError::Http {
                url: "blob body".to_owned(),
                source: source.without_url(),
            })?
        {
            if chunks.send(chunk).await.is_err() {
                // The writer stopped on an error of its own, returned below.
                break;
            }
        }
        Ok::<(), Error>(())
    }
    .await;
    drop(chunks);
    let written = writer
        .await
        .map_err(|error| io_error("blob writer", std::io::Error::other(error.to_string())))?;
    read?;
    written
}

/// Splits the chunks of a body holding `blobs` back to back, by their known
/// sizes, into their staging files (blocking); tells `early` of each one
/// complete and verified.
fn write_blobs(
    mut queued: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    blobs: &[Wanted],
    early: Option<&Early>,
) -> Result<(), Error> {
    let mut dirs = CheckedDirs::default();
    let mut arrived = |blob: &Wanted, file: &fs::File| {
        if let Some(early) = early {
            early.arrived(&blob.destination, file, &mut dirs);
        }
    };
    let mut pending = blobs.iter();
    let mut sink = BlobSink::next(&mut pending, &mut arrived)?;
    while let Some(chunk) = queued.blocking_recv() {
        let mut data = &chunk[..];
        while !data.is_empty() {
            let Some(current) = sink.as_mut() else {
                return Err(RuntimeError::ShortBlob {
                    sha256: "(body longer than the blobs asked for)".to_owned(),
                    expected: 0,
                    actual: data.len() as u64,
                }
                .into());
            };
            let taken = current.write(data)?;
            data = &data[taken..];
            if current.remaining() == 0 {
                let done = sink.take().expect("current sink");
                let blob = done.blob;
                let file = done.finish()?;
                arrived(blob, &file);
                sink = BlobSink::next(&mut pending, &mut arrived)?;
            }
        }
    }
    match sink {
        None => Ok(()),
        Some(short) => Err(RuntimeError::ShortBlob {
            sha256: short.blob.sha256.clone(),
            expected: short.blob.size,
            actual: short.written,
        }
        .into()),
    }
}

struct BlobSink<'a> {
    blob: &'a Wanted,
    file: fs::File,
    hasher: Sha256,
    written: u64,
}

impl<'a> BlobSink<'a> {
    /// Opens the next blob's file; empty blobs are completed on the spot
    /// (and passed to `arrived`).
    fn next(
        pending: &mut std::slice::Iter<'a, Wanted>,
        arrived: &mut dyn FnMut(&Wanted, &fs::File),
    ) -> Result<Option<BlobSink<'a>>, Error> {
        for blob in pending.by_ref() {
            let file = create_staging_file(blob).map_err(|e| io_error(&blob.destination, e))?;
            let sink = BlobSink {
                blob,
                file,
                hasher: Sha256::new(),
                written: 0,
            };
            if blob.size > 0 {
                return Ok(Some(sink));
            }
            let file = sink.finish()?;
            arrived(blob, &file);
        }
        Ok(None)
    }

    fn remaining(&self) -> u64 {
        self.blob.size - self.written
    }

    fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        let taken = data
            .len()
            .min(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
        self.file
            .write_all(&data[..taken])
            .map_err(|e| io_error(&self.blob.destination, e))?;
        self.hasher.update(&data[..taken]);
        self.written += taken as u64;
        Ok(taken)
    }

    /// Verifies the content; gives back the file, still open.
    fn finish(self) -> Result<fs::File, Error> {
        let actual = hex::encode(self.hasher.finalize());
        if actual != self.blob.sha256 {
            return Err(RuntimeError::HashMismatch {
                expected: self.blob.sha256.clone(),
                actual,
            }
            .into());
        }
        Ok(self.file)
    }
}

/// Creates a blob's staging file, and in a graft its missing directories
/// first: made here, by the writer threads, they cost the download nothing
/// (made one after another before it, a tree's 1,100 took 60 ms).
fn create_staging_file(blob: &Wanted) -> std::io::Result<fs::File> {
    match crate::fsio::create_new(&blob.destination) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && blob.in_graft => {
            if let Some(parent) = blob.destination.parent() {
                // Below the graft's own directory, in staging: nothing there
                // is a symlink, so making the whole way is safe.
                fs::create_dir_all(parent)?;
            }
            crate::fsio::create_new(&blob.destination)
        }
        created => created,
    }
}

/// Writes content that came with the manifest into a new staging file,
/// after checking it is the content `sha256` names.
pub fn write_verified(content: &[u8], destination: &Path, sha256: &str) -> Result<(), Error> {
    let actual = hex::encode(Sha256::digest(content));
    if actual != sha256 {
        return Err(RuntimeError::HashMismatch {
            expected: sha256.to_owned(),
            actual,
        }
        .into());
    }
    let mut file = crate::fsio::create_new(destination).map_err(|e| io_error(destination, e))?;
    file.write_all(content)
        .map_err(|e| io_error(destination, e))
}

/// Copies a file already in the tree into staging, verifying it still holds
/// `sha256` (it may have been edited since its stamp was taken). When it
/// does not, nothing is left at `destination`, where the download goes.
pub fn copy_verified(source: &Path, destination: &Path, sha256: &str) -> Result<bool, Error> {
    if let Err(error) = crate::fsio::copy_new(source, destination) {
        tracing::debug!(path = %source.display(), %error, "local copy failed; downloading instead");
        let _ = fs::remove_file(destination);
        return Ok(false);
    }
    let (actual, _) = crate::fsio::hash_file(destination).map_err(|e| io_error(destination, e))?;
    if actual != sha256 {
        fs::remove_file(destination).map_err(|e| io_error(destination, e))?;
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(sizes: &[u64]) -> Vec<Wanted> {
        sizes
            .iter()
            .map(|size| Wanted {
                sha256: String::new(),
                size: *size,
                destination: PathBuf::new(),
                in_graft: false,
            })
            .collect()
    }

    fn lengths(wanted: Vec<Wanted>) -> Vec<usize> {
        batches(wanted).iter().map(Vec::len).collect()
    }

    #[test]
    fn batches_ask_in_sha256_order() {
        let wanted: Vec<Wanted> = ["c", "a", "d", "b"]
            .iter()
            .map(|sha256| Wanted {
                sha256: (*sha256).to_owned(),
                size: 1,
                destination: PathBuf::from(sha256),
                in_graft: false,
            })
            .collect();
        let asked: Vec<Vec<String>> = batches(wanted.clone())
            .iter()
            .map(|batch| batch.iter().map(|blob| blob.sha256.clone()).collect())
            .collect();
        assert_eq!(asked, [["a", "b", "c", "d"]]);
        let destinations = batches(wanted).remove(0);
        assert!(
            destinations
                .iter()
                .all(|blob| blob.destination.as_os_str() == blob.sha256.as_str())
        );
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        const MIB: u64 = 1024 * 1024;
        let cases: Vec<(&str, Vec<u64>, Vec<usize>)> = vec![
            ("nothing", vec![], vec![]),
            ("one", vec![1], vec![1]),
            ("small ones together", vec![1; 10], vec![10]),
            (
                "count cap",
                vec![1; MAX_BLOBS_PER_BATCH + 1],
                vec![MAX_BLOBS_PER_BATCH, 1],
            ),
            ("byte cap", vec![40 * MIB, 40 * MIB, 1], vec![1, 2]),
            ("a huge blob alone", vec![1, 200 * MIB, 1], vec![1, 1, 1]),
        ];
        for (case, blob_sizes, expected) in cases {
            assert_eq!(lengths(sizes(&blob_sizes)), expected, "{case}");
        }
    }

    #[test]
    fn inline_content_is_staged_only_when_it_matches_its_sha256() {
        let staging = tempfile::tempdir().unwrap();
        let good = staging.path().join("good");
        let bad = staging.path().join("bad");
        let sha256 = sync_protocol::sha256_hex(b"saved");

        write_verified(b"saved", &good, &sha256).unwrap();
        let refused = write_verified(b"tampered", &bad, &sha256).unwrap_err();

        assert_eq!(fs::read(&good).unwrap(), b"saved");
        assert!(refused.to_string().contains(&sha256), "{refused}");
        assert!(!bad.exists(), "nothing unverified is written");
        // A name already taken (a planted symlink, say) is never written through.
        assert!(write_verified(b"saved", &good, &sha256).is_err());
    }
}
