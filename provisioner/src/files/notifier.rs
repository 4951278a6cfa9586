//! Wakes long-polls when an app's revision moves.
//!
//! One `tokio::sync::watch` channel per app carries its latest revision
//! (with what it changed, when this process wrote it: [`Published`]): a
//! write publishes once and every waiter of that app wakes at once, without
//! polling the database and without holding a connection while it waits.
//! Channels are made on first use and dropped when a publish finds no one
//! listening, so idle apps cost nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_protocol::AppId;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::carried::{Published, WrittenChanges};

#[derive(Clone, Debug, Default)]
pub struct RevisionNotifier {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// A std mutex: it is held only to look a channel up, never across an await.
    channels: Mutex<HashMap<AppId, watch::Sender<Published>>>,
    /// Long-polls waiting right now, for the metrics gauge.
    waiters: AtomicI64,
    /// Cancelled at shutdown so that waiting requests answer at once instead
    /// of holding graceful shutdown for up to a minute.
    shutdown: CancellationToken,
}

/// What ended a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A revision above the one waited on was published.
    Moved,
    TimedOut,
    ShuttingDown,
}

impl RevisionNotifier {
    /// Subscribes to the app's revisions. Subscribe *before* reading the
    /// current revision from the store, so a write landing in between is seen.
    pub fn subscribe(&self, app_id: &AppId) -> watch::Receiver<Published> {
        let mut channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        channels
            .entry(app_id.clone())
            .or_insert_with(|| watch::channel(Published::default()).0)
            .subscribe()
    }

    /// Records a committed revision and wakes every waiter of the app.
    pub fn publish(&self, app_id: &AppId, revision: u64) {
        self.publish_changes(app_id, revision, None);
    }

    /// Records a revision this process wrote, with what it changed, so the
    /// waits one revision behind are answered without reading the store.
    pub fn publish_written(&self, app_id: &AppId, revision: u64, changes: WrittenChanges) {
        self.publish_changes(app_id, revision, Some(Arc::new(changes)));
    }

    fn publish_changes(&self, app_id: &AppId, revision: u64, changes: Option<Arc<WrittenChanges>>) {
        let mut channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(sender) = channels.get(app_id) {
            if sender.receiver_count() == 0 {
                channels.remove(app_id);
            } else {
                sender.send_if_modified(|current| {
                    let moved = revision > current.revision;
                    if moved {
                        *current = Published { revision, changes };
                    }
                    moved
                });
            }
        }
    }

    /// The apps with a waiter right now. A backend whose writes can come
    /// from another process re-reads these apps' revisions now and then, in
    /// case a cross-process notification was lost.
    pub fn watched_apps(&self) -> Vec<AppId> {
        let channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        channels
            .iter()
            .filter(|(_, sender)| sender.receiver_count() > 0)
            .map(|(app_id, _)| app_id.clone())
            .collect()
    }

    /// Waits until a revision above `since` is published, `timeout` passes or shutdown begins.
    pub async fn wait_past(
        &self,
        receiver: &mut watch::Receiver<Published>,
        since: u64,
        timeout: Duration,
    ) -> WaitOutcome {
        let _waiting = WaiterGuard::new(&self.inner.waiters);
        tokio::select! {
            changed = receiver.wait_for(|published| published.revision > since) => match changed {
                Ok(_) => WaitOutcome::Moved,
                // The sender went away: treat as a change so the caller re-reads the store.
                Err(_) => WaitOutcome::Moved,
            },
            () = tokio::time::sleep(timeout) => WaitOutcome::TimedOut,
            () = self.inner.shutdown.cancelled() => WaitOutcome::ShuttingDown,
        }
    }

    /// Long-polls waiting right now.
    pub fn waiters(&self) -> i64 {
        self.inner.waiters.load(Ordering::Relaxed)
    }

    /// Ends every current and future wait at once.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Whether shutdown has begun: a long-poll ended by it is handed back
    /// with a hint to retry elsewhere.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }
}

/// Counts a waiter for as long as it lives, however the wait ends (a dropped request included).
struct WaiterGuard<'a>(&'a AtomicI64);

impl<'a> WaiterGuard<'a> {
    fn new(counter: &'a AtomicI64) -> WaiterGuard<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        WaiterGuard(counter)
    }
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_publish_wakes_every_waiter() {
        let notifier = RevisionNotifier::default();
        let app_id = AppId::parse("app").unwrap();
        let mut waits = Vec::new();
        for _ in 0..3 {
            let notifier = notifier.clone();
            let mut receiver = notifier.subscribe(&app_id);
            waits.push(tokio::spawn(async move {
                notifier
                    .wait_past(&mut receiver, 4, Duration::from_secs(30))
                    .await
            }));
        }
        notifier.publish(&app_id, 5);
        for wait in waits {
            assert_eq!(wait.await.unwrap(), WaitOutcome::Moved);
        }
        assert_eq!(notifier.waiters(), 0);
    }

    #[tokio::test]
    async fn times_out_and_stops_at_shutdown() {
        let notifier = RevisionNotifier::default();
        let app_id = AppId::parse("app").unwrap();
        let mut receiver = notifier.subscribe(&app_id);
        notifier.publish(&app_id, 3);
        let outcome = notifier
            .wait_past(&mut receiver, 3, Duration::from_millis(50))
            .await;
        assert_eq!(outcome, WaitOutcome::TimedOut);
        notifier.shutdown();
        let outcome = notifier
            .wait_past(&mut receiver, 3, Duration::from_secs(30))
            .await;
        assert_eq!(outcome, WaitOutcome::ShuttingDown);
    }
}
