//! The bounded queue of lines waiting to be shipped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use sync_protocol::logs::{LogSource, MAX_BATCH_LINES, ShippedLine, cut_line};
use tokio::sync::Notify;

/// How many lines wait at most (about 4 MB at the longest lines).
pub const QUEUED_LINES: usize = 10_000;

/// Lines waiting for the shipper; clones share one queue.
#[derive(Clone, Debug)]
pub struct Outbox {
    queue: Arc<Mutex<Queue>>,
    arrived: Arc<Notify>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Queue {
    lines: VecDeque<ShippedLine>,
    /// Lines dropped (the oldest first) since the last batch was taken.
    dropped: u64,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox::with_capacity(QUEUED_LINES)
    }
}

impl Outbox {
    pub fn with_capacity(capacity: usize) -> Outbox {
        Outbox {
            queue: Arc::default(),
            arrived: Arc::default(),
            capacity: capacity.max(1),
        }
    }

    /// Queues one line, stamped now and cut to the protocol's bound; the
    /// oldest line goes when the queue is full.
    pub fn push(&self, source: LogSource, text: &str) {
        let mut text = text.to_owned();
        cut_line(&mut text);
        let line = ShippedLine {
            at_ms: now_ms(),
            source,
            text,
        };
        let waiting = {
            let mut queue = self.lock();
            if queue.lines.len() >= self.capacity {
                queue.lines.pop_front();
                queue.dropped += 1;
            }
            queue.lines.push_back(line);
            queue.lines.len()
        };
        // The shipper cares about the first line and a full batch only: a
        // wake-up per line would cost a flood one task switch per line.
        if waiting == 1 || waiting == MAX_BATCH_LINES {
            self.arrived.notify_one();
        }
    }

    /// Takes up to `max` lines, oldest first. When lines were dropped since
    /// the last batch, the batch starts with a `daemon` line saying how many.
    pub fn take(&self, max: usize) -> Vec<ShippedLine> {
        let mut queue = self.lock();
        let mut batch = Vec::with_capacity(max.min(queue.lines.len() + 1));
        if queue.dropped > 0 && max > 0 {
            batch.push(ShippedLine {
                at_ms: queue.lines.front().map_or_else(now_ms, |line| line.at_ms),
                source: LogSource::Daemon,
                text: format!(
                    "{} log lines dropped: the provisioner was unreachable or the output too fast",
                    queue.dropped
                ),
            });
            queue.dropped = 0;
        }
        let count = (max - batch.len()).min(queue.lines.len());
        batch.extend(queue.lines.drain(..count));
        batch
    }

    /// Puts back a batch that was not delivered, ahead of newer lines. What
    /// does not fit any more is dropped (oldest first) and counted.
    pub fn put_back(&self, batch: Vec<ShippedLine>) {
        let mut queue = self.lock();
        for line in batch.into_iter().rev() {
            if queue.lines.len() >= self.capacity {
                queue.dropped += 1;
            } else {
                queue.lines.push_front(line);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves once the queue got its first line or a full batch
    /// (`MAX_BATCH_LINES`) since the last call (or now, if that happened
    /// while nobody waited).
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(batch: &[ShippedLine]) -> Vec<String> {
        batch.iter().map(|line| line.text.clone()).collect()
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_the_next_batch_says_how_many() {
        let outbox = Outbox::with_capacity(3);
        for index in 0..5 {
            outbox.push(LogSource::DevServer, &format!("line {index}"));
        }
        let batch = outbox.take(10);
        assert_eq!(batch[0].source, LogSource::Daemon);
        assert!(
            batch[0].text.starts_with("2 log lines dropped"),
            "{batch:?}"
        );
        assert_eq!(texts(&batch[1..]), ["line 2", "line 3", "line 4"]);
        outbox.push(LogSource::Install, "after");
        assert_eq!(
            texts(&outbox.take(10)),
            ["after"],
            "the count was said once"
        );
    }

    #[test]
    fn batches_are_bounded_and_an_undelivered_batch_goes_back_in_front() {
        let outbox = Outbox::with_capacity(100);
        for index in 0..5 {
            outbox.push(LogSource::DevServer, &format!("line {index}"));
        }
        let first = outbox.take(2);
        assert_eq!(texts(&first), ["line 0", "line 1"]);
        outbox.put_back(first);
        assert_eq!(outbox.len(), 5);
        assert_eq!(
            texts(&outbox.take(10)),
            ["line 0", "line 1", "line 2", "line 3", "line 4"]
        );
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_batch_put_back_into_a_refilled_outbox_keeps_the_bound_and_counts_the_loss() {
        let outbox = Outbox::with_capacity(3);
        outbox.push(LogSource::DevServer, "old 0");
        outbox.push(LogSource::DevServer, "old 1");
        let batch = outbox.take(2);
        for index in 0..2 {
            outbox.push(LogSource::DevServer, &format!("new {index}"));
        }
        outbox.put_back(batch);
        let after = outbox.take(10);
        assert!(
            after[0].text.starts_with("1 log lines dropped"),
            "{after:?}"
        );
        assert_eq!(texts(&after[1..]), ["old 1", "new 0", "new 1"]);
    }

    #[tokio::test]
    async fn the_shipper_is_woken_by_the_first_line_and_by_a_full_batch_only() {
        let outbox = Outbox::default();
        let woken = |outbox: &Outbox| {
            let arrived = outbox.arrived();
            futures::FutureExt::now_or_never(arrived).is_some()
        };
        assert!(!woken(&outbox), "nothing arrived yet");
        outbox.push(LogSource::DevServer, "first");
        assert!(woken(&outbox));
        for index in 1..MAX_BATCH_LINES - 1 {
            outbox.push(LogSource::DevServer, &format!("line {index}"));
        }
        assert!(!woken(&outbox), "no wake-up per line");
        outbox.push(LogSource::DevServer, "fills the batch");
        assert!(woken(&outbox));
    }

    #[test]
    fn lines_are_cut_to_the_protocol_bound() {
        let outbox = Outbox::default();
        outbox.push(LogSource::DevServer, &"x".repeat(10_000));
        let batch = outbox.take(1);
        assert_eq!(batch[0].text.len(), sync_protocol::logs::MAX_LINE_BYTES);
        assert!(batch[0].at_ms > 0);
    }
}
