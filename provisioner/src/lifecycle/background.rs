//! The shape every background loop shares (omicron's `TaskExec::run`): an
//! activation on each tick of an interval or when poked through a `Notify`,
//! until shutdown. Activations take no input and are idempotent; a failed one
//! is not retried, the next tick tries again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::lifecycle::model::{PreviewRecord, PreviewState};
use crate::lifecycle::service::LifecycleService;

/// Runs `activate` every `period` (and whenever `notify` is poked) until
/// `shutdown` is cancelled. An activation in progress at shutdown is dropped:
/// every step it takes is recorded, so the next start picks up from there.
pub async fn run_periodically<F, Fut>(
    name: &'static str,
    period: Duration,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
    mut activate: F,
) where
    F: FnMut() -> Fut,
    Fut: Future,
{
    let mut interval = tokio::time::interval(period);
    // After a slow activation, wait a whole period instead of firing a burst.
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tracing::info!(
        task = name,
        period_ms = period.as_millis() as u64,
        "background task started"
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = interval.tick() => {}
            _ = notify.notified() => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _summary = activate() => {}
        }
    }
    tracing::info!(task = name, "background task stopped");
}

/// The start of an idle-based pass: flush the in-memory activity (so the
/// decision sees every heartbeat), then list the previews in `state` (all
/// when `None`). `None` when the store cannot be read; the task logs why.
pub async fn flushed_previews(
    service: &LifecycleService,
    state: Option<PreviewState>,
    task: &'static str,
) -> Option<Vec<PreviewRecord>> {
    if let Err(error) = service.flush_activity().await {
        tracing::warn!(task, error = %error, "activity flush failed; deciding on stored activity");
    }
    match service.list(state).await {
        Ok(records) => Some(records),
        Err(error) => {
            tracing::warn!(task, error = %error, "listing previews failed");
            None
        }
    }
}
