//! The shipper task: batches from the outbox to the provisioner.

use std::time::Duration;

use sync_protocol::logs::{LogBatch, MAX_BATCH_LINES};
use tokio::sync::watch;

use super::Outbox;
use crate::backoff::Backoff;
use crate::client::Client;
use crate::error::{Error, RuntimeError};

/// The longest a line waits in the outbox before its batch is sent, unless
/// the provisioner is unreachable.
pub const BATCH_WAIT: Duration = Duration::from_millis(250);
/// How long the last lines get to be delivered once the daemon stops.
const FINAL_FLUSH: Duration = Duration::from_secs(3);

/// Ships until `stop` turns true, then sends what is left (bounded by
/// [`FINAL_FLUSH`]).
pub async fn run(client: Client, outbox: Outbox, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
    loop {
        if outbox.is_empty() {
            tokio::select! {
                () = outbox.arrived() => {}
                _ = stop.wait_for(|stopping| *stopping) => break,
            }
        }
        // The first line is here: gather more for at most BATCH_WAIT.
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while outbox.len() < MAX_BATCH_LINES {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                () = outbox.arrived() => {}
            }
        }
        let batch = outbox.take(MAX_BATCH_LINES);
        if batch.is_empty() {
            continue;
        }
        match deliver(&client, batch, &outbox).await {
            Delivery::Done => backoff.reset(),
            Delivery::Retry => {
                let delay = backoff.next_delay();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|stopping| *stopping) => break,
                }
            }
        }
    }
    let flush = async {
        while !outbox.is_empty() {
            let batch = outbox.take(MAX_BATCH_LINES);
            if matches!(deliver(&client, batch, &outbox).await, Delivery::Retry) {
                return;
            }
        }
    };
    if tokio::time::timeout(FINAL_FLUSH, flush).await.is_err() {
        tracing::warn!("the last log lines were not delivered in time");
    }
}

enum Delivery {
    /// Delivered, or refused for good (dropped: sending it again cannot help).
    Done,
    /// Put back in the outbox.
    Retry,
}

async fn deliver(
    client: &Client,
    batch: Vec<sync_protocol::logs::ShippedLine>,
    outbox: &Outbox,
) -> Delivery {
    let body = LogBatch { lines: batch };
    match client.ship_logs(&body).await {
        Ok(()) => Delivery::Done,
        Err(Error::Runtime(RuntimeError::Status { status, .. }))
            if (400..500).contains(&status) && !matches!(status, 408 | 429) =>
        {
            tracing::warn!(
                status,
                lines = body.lines.len(),
                "the provisioner refused a log batch; dropped"
            );
            Delivery::Done
        }
        Err(error) => {
            tracing::debug!(%error, "log batch not delivered; retrying");
            outbox.put_back(body.lines);
            Delivery::Retry
        }
    }
}
