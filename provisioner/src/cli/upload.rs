//! Saving a batch of changes as one revision, with a progress bar on
//! stderr while a large body goes up (only when stderr is a terminal, so
//! scripts and tests read clean output).

use std::io::IsTerminal;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use sync_protocol::{AppId, BatchChange, BatchRequest, WriteResponse};

use super::connection::Connection;

/// Bodies smaller than this go up without a bar: they take a blink.
const PROGRESS_FROM_BYTES: usize = 1024 * 1024;
/// The piece of the body the bar advances by.
const CHUNK_BYTES: usize = 64 * 1024;

/// `POST /v1/apps/{app}/files` with `changes`: all or nothing, one revision.
pub async fn save_batch(
    connection: &Connection,
    app: &AppId,
    changes: Vec<BatchChange>,
) -> anyhow::Result<WriteResponse> {
    let body = serde_json::to_vec(&BatchRequest { changes })?;
    let request = connection
        .request(Method::POST, &format!("/v1/apps/{app}/files"))
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    if body.len() < PROGRESS_FROM_BYTES || !std::io::stderr().is_terminal() {
        return connection.call(request.body(body)).await;
    }
    let bar = ProgressBar::new(body.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("{app}: uploading"));
    let chunks: Vec<Bytes> = Bytes::from(body)
        .chunks(CHUNK_BYTES)
        .map(Bytes::copy_from_slice)
        .collect();
    let counted = bar.clone();
    let stream = futures::stream::iter(chunks.into_iter().map(move |chunk| {
        counted.inc(chunk.len() as u64);
        Ok::<_, std::io::Error>(chunk)
    }));
    let answer = connection
        .call(request.body(reqwest::Body::wrap_stream(stream)))
        .await;
    bar.finish_and_clear();
    answer
}
