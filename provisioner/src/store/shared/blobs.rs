//! A batch of blobs in one query, streamed as its rows arrive.
//!
//! `POST /blobs` used to read its blobs one statement at a time, each a round
//! trip through the pool to the database (on SQLite, to sqlx's worker thread,
//! about 150 µs each: 1.5 s for the 10,000 blobs of a 100 MB tree, longer than
//! `tar` takes for the whole tree). Here one statement reads a whole run of
//! the batch in the primary key's order, so the database walks its index once
//! and no sort holds the content back: a task of its own reads the rows and
//! hands them over through a small channel, and the answer's body is written
//! while the next rows are read.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::{Blob, StoreError};

/// Rows read ahead of the body being written: a few blobs in memory, so
/// reading and sending overlap without a batch piling up.
pub(crate) const ROWS_AHEAD: usize = 8;

/// How long a reader may leave a row untaken before the read ends: the
/// statement holds a pooled connection, and a client that stops reading must
/// not keep it.
pub(crate) const HAND_OVER_TIMEOUT: Duration = Duration::from_secs(60);

/// Hands one row to the reader; `false` when the reader is gone or stalled,
/// and the statement should stop.
pub(crate) async fn hand_over(
    sender: &mpsc::Sender<Result<Blob, StoreError>>,
    row: Result<Blob, StoreError>,
) -> bool {
    let failed = row.is_err();
    match tokio::time::timeout(HAND_OVER_TIMEOUT, sender.send(row)).await {
        Ok(Ok(())) => !failed,
        Ok(Err(_gone)) => false,
        Err(_stalled) => {
            tracing::warn!(
                timeout_s = HAND_OVER_TIMEOUT.as_secs(),
                "a blob batch's reader took nothing for too long; ending its read"
            );
            false
        }
    }
}

/// Implements `read_blobs` (the body of `FileStore::read_blobs`) for
/// `$store`, whose pool holds `$db` connections.
macro_rules! blob_stream {
    ($store:ty, $db:ty) => {
        impl $store {
            fn stream_blobs(
                &self,
                app_id: &sync_protocol::AppId,
                sha256s: &[String],
            ) -> $crate::store::BlobStream {
                use futures::StreamExt;
                if sha256s.is_empty() {
                    return futures::stream::empty().boxed();
                }
                let mut query = sqlx::QueryBuilder::<$db>::new(
                    "SELECT b.sha256, b.content FROM blobs b WHERE b.sha256 IN (",
                );
                let mut separated = query.separated(", ");
                for sha256 in sha256s {
                    separated.push_bind(sha256.clone());
                }
                query.push(") AND EXISTS (SELECT 1 FROM files f WHERE f.app_id = ");
                query.push_bind(app_id.as_str().to_owned());
                query.push(format!(
                    " AND f.sha256 = b.sha256) ORDER BY b.sha256{}",
                    Self::BYTE_ORDER
                ));
                let pool = self.pool().clone();
                let (sender, receiver) =
                    tokio::sync::mpsc::channel($crate::store::shared::blobs::ROWS_AHEAD);
                tokio::spawn(async move {
                    let mut rows = query.build_query_as::<(String, Vec<u8>)>().fetch(&pool);
                    while let Some(row) = rows.next().await {
                        let blob = row
                            .map(|(sha256, content)| $crate::store::Blob {
                                sha256,
                                bytes: bytes::Bytes::from(content),
                            })
                            .map_err($crate::store::StoreError::from);
                        if !$crate::store::shared::blobs::hand_over(&sender, blob).await {
                            break;
                        }
                    }
                });
                tokio_stream::wrappers::ReceiverStream::new(receiver).boxed()
            }
        }
    };
}

pub(crate) use blob_stream;
