//! The shipper task: batches from the outbox to the provisioner.

use std::time::Duration;

use sync_protocol::logs::{LogBatch, MAX_BATCH_LINES};
use tokio::sync::watch;
use tokio::time::Instant;

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
    let mut last_sent: Option<Instant> = None;
    loop {
        if outbox.is_empty() {
            tokio::select! {
                () = outbox.arrived() => {}
                _ = stop.wait_for(|stopping| *stopping) => break,
            }
        }
        // The first line is here: gather more for at most BATCH_WAIT; a full
        // batch leaves early, but never sooner than BATCH_WAIT after the one
        // before, so a flood costs the provisioner at most one write per
        // BATCH_WAIT (what it prints faster is dropped, and counted).
        let gathering_since = Instant::now();
        loop {
            let at = send_at(gathering_since, last_sent, outbox.len() >= MAX_BATCH_LINES);
            if at <= Instant::now() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep_until(at) => break,
                () = outbox.arrived() => {}
            }
        }
        last_sent = Some(Instant::now());
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

/// When a batch gathered since `gathering_since` leaves: [`BATCH_WAIT`]
/// after its first line, or once full, but not sooner than [`BATCH_WAIT`]
/// after the batch before (`last_sent`).
fn send_at(gathering_since: Instant, last_sent: Option<Instant>, full: bool) -> Instant {
    if !full {
        return gathering_since + BATCH_WAIT;
    }
    last_sent.map_or(gathering_since, |sent| {
        (sent + BATCH_WAIT).max(gathering_since)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_leaves_after_the_wait_or_once_full_but_never_two_within_the_wait() {
        let start = Instant::now();
        let ms = |count: u64| Duration::from_millis(count);
        // (gathering since, last sent, full) -> leaves at
        let cases = [
            (start, None, false, start + BATCH_WAIT),
            (start, None, true, start),
            (start, Some(start - ms(1_000)), true, start),
            (
                start,
                Some(start - ms(100)),
                true,
                start + BATCH_WAIT - ms(100),
            ),
            (start, Some(start - ms(100)), false, start + BATCH_WAIT),
            (start + ms(10), Some(start), true, start + BATCH_WAIT),
        ];
        for (gathering_since, last_sent, full, expected) in cases {
            assert_eq!(
                send_at(gathering_since, last_sent, full),
                expected,
                "{gathering_since:?} {last_sent:?} {full}"
            );
        }
    }
}
