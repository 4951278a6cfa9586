//! Cross-instance wake-ups: each instance LISTENs on `files_revision` and
//! publishes what it hears to its own [`RevisionNotifier`], so a long-poll
//! here wakes when another instance writes.
//!
//! Notifications are not durable: one sent while the listening connection is
//! down is gone. So after every (re)connect, and every [`RECHECK_PERIOD`]
//! besides, the apps that have waiters right now are read from the store and
//! their revisions published. A lost notification can delay a wake-up by at
//! most that period, never lose it.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sync_protocol::AppId;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::{PostgresStore, REVISION_CHANNEL};
use crate::files::RevisionNotifier;
use crate::store::shared::to_u64;

/// How often waiting apps are re-read, in case a notification was missed.
const RECHECK_PERIOD: Duration = Duration::from_secs(3);
/// The longest pause between two attempts to reconnect the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens until `stop` is cancelled, reconnecting whenever the connection is lost.
pub(crate) async fn run(
    store: PostgresStore,
    options: PgConnectOptions,
    notifier: RevisionNotifier,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    // Bounded by `stop`: the loop ends at shutdown, and each pass either
    // listens until the connection fails or waits out a backoff.
    while !stop.is_cancelled() {
        let listener = tokio::select! {
            () = stop.cancelled() => return,
            listener = connect(options.clone()) => listener,
        };
        match listener {
            Ok(listener) => {
                backoff = Duration::from_millis(100);
                tracing::info!(
                    channel = REVISION_CHANNEL,
                    "listening for other instances' writes"
                );
                listen(&store, listener, &notifier, &stop).await;
            }
            Err(error) => {
                tracing::warn!(
                    error.message = %error,
                    retry_in_ms = backoff.as_millis() as u64,
                    "failed to start listening for other instances' writes"
                );
                // Waiters still wake on this instance's own writes, and on
                // the re-checks below once the database is back.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn connect(options: PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    // A pool of one, used by `PgListener` only to reconnect.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen(REVISION_CHANNEL).await?;
    Ok(listener)
}

/// Serves one listening connection until it fails or `stop` is cancelled.
async fn listen(
    store: &PostgresStore,
    mut listener: PgListener,
    notifier: &RevisionNotifier,
    stop: &CancellationToken,
) {
    let mut recheck = tokio::time::interval(RECHECK_PERIOD);
    recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            // The first tick is immediate: it covers what was missed while disconnected.
            _ = recheck.tick() => recheck_waiting(store, notifier).await,
            message = listener.try_recv() => match message {
                Ok(Some(notification)) => publish(notifier, notification.payload()),
                Ok(None) => {
                    // `PgListener` has reconnected and listens again; what was
                    // sent in between is lost, so re-read now.
                    tracing::warn!("the listening connection was lost and re-made");
                    recheck_waiting(store, notifier).await;
                }
                Err(error) => {
                    tracing::warn!(error.message = %error, "the listening connection failed");
                    return;
                }
            },
        }
    }
}

/// Publishes the stored revision of every app that has waiters here.
async fn recheck_waiting(store: &PostgresStore, notifier: &RevisionNotifier) {
    let apps = notifier.watched_apps();
    if apps.is_empty() {
        return;
    }
    let app_ids: Vec<&str> = apps.iter().map(AppId::as_str).collect();
    let rows = sqlx::query("SELECT app_id, revision FROM apps WHERE app_id = ANY($1)")
        .bind(&app_ids)
        .fetch_all(store.pool())
        .await;
    match rows {
        Ok(rows) => {
            for row in rows {
                let app_id: String = row.get("app_id");
                let revision: i64 = row.get("revision");
                if let Ok(app_id) = AppId::parse(&app_id) {
                    notifier.publish(&app_id, to_u64(revision));
                }
            }
        }
        Err(error) => tracing::warn!(error.message = %error, "failed to re-check waiting apps"),
    }
}

/// Publishes a `<appId> <revision>` payload; anything else is logged and dropped.
fn publish(notifier: &RevisionNotifier, payload: &str) {
    let parsed = payload.split_once(' ').and_then(|(app_id, revision)| {
        Some((AppId::parse(app_id).ok()?, revision.parse::<u64>().ok()?))
    });
    match parsed {
        Some((app_id, revision)) => notifier.publish(&app_id, revision),
        None => tracing::warn!(payload, "ignored a malformed revision notification"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn payloads_wake_their_app_and_malformed_ones_are_dropped() {
        let notifier = RevisionNotifier::default();
        let app_id = AppId::parse("shop").unwrap();
        let mut receiver = notifier.subscribe(&app_id);

        publish(&notifier, "shop nine");
        publish(&notifier, "Not An App 3");
        publish(&notifier, "shop 4");

        assert_eq!(receiver.borrow_and_update().revision, 4);
        assert_eq!(notifier.watched_apps(), vec![app_id]);
    }
}
