//! The background tasks and the shape they share (omicron's
//! `TaskExec::run`): an activation on each tick of an interval or when poked
//! through a `Notify`, until shutdown. Activations take no input and are
//! idempotent; a failed one is not retried, the next tick tries again.
//!
//! Every task is registered in the service's [`TaskRegistry`], which keeps
//! how its last activation went (when, how long, its summary, failures):
//! `/metrics` and `GET /v1/status` show it.
//!
//! Instances sharing a store take turns through the store's coordination: a
//! task runs only on the instance holding its lease, which keeps it from
//! pass to pass. The others ask for it on every tick, so when the holder
//! dies (its database session ends with it) another one takes over within
//! one period.

/// Implements [`TaskSummary`] for a summary struct with the fields
/// `failed: usize` and `error: Option<String>`.
macro_rules! summary_with_failed_and_error {
    ($summary:ty) => {
        impl $crate::lifecycle::tasks::TaskSummary for $summary {
            fn failed(&self) -> usize {
                self.failed
            }
            fn error(&self) -> Option<&str> {
                self.error.as_deref()
            }
        }
    };
}
use summary_with_failed_and_error;

pub mod idle_reaper;
pub mod reconciler;
mod registry;
pub mod ttl_sweeper;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::lifecycle::model::{PreviewRecord, PreviewState};
use crate::lifecycle::service::LifecycleService;
use crate::store::coordination::{Coordination, TaskLease};
pub use registry::{TaskRegistry, TaskStatus, TaskSummary};

/// Spawns the idle reaper, the TTL sweeper and the reconciler, each every
/// `period`; they stop when the service's shutdown token is cancelled.
pub fn spawn_all(service: &Arc<LifecycleService>, period: Duration) -> JoinSet<()> {
    let shutdown = service.shutdown_token();
    let mut tasks = JoinSet::new();
    let notify = || Arc::new(Notify::new());
    tasks.spawn(idle_reaper::run(
        service.clone(),
        period,
        notify(),
        shutdown.clone(),
    ));
    tasks.spawn(ttl_sweeper::run(
        service.clone(),
        period,
        notify(),
        shutdown.clone(),
    ));
    let reconciler = Arc::new(reconciler::Reconciler::new(service.clone()));
    tasks.spawn(reconciler::run(reconciler, period, notify(), shutdown));
    tasks
}

/// Runs `activate` every `period` (and whenever `notify` is poked) until
/// `shutdown` is cancelled. An activation in progress at shutdown is dropped:
/// every step it takes is recorded, so the next start picks up from there.
/// Each activation's summary is recorded in the service's registry under
/// `name`; a tick on an instance without the task's lease does nothing.
pub async fn run_periodically<F, Fut>(
    name: &'static str,
    service: &LifecycleService,
    period: Duration,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
    mut activate: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output: TaskSummary>,
{
    let registry = service.tasks();
    registry.register(name, period);
    let mut lease = None;
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
        let leased = holds_lease(&mut lease, service.coordination.as_ref(), name).await;
        registry.set_leased(name, leased);
        if !leased {
            continue;
        }
        let started_at = time::OffsetDateTime::now_utc();
        let timer = std::time::Instant::now();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            summary = activate() => registry.record(name, started_at, timer.elapsed(), &summary),
        }
    }
    tracing::info!(task = name, "background task stopped");
}

/// Whether this instance holds `task`'s lease: the one it kept, if still
/// alive, else a new one if no other instance holds it.
async fn holds_lease(
    lease: &mut Option<Box<dyn TaskLease>>,
    coordination: &dyn Coordination,
    task: &'static str,
) -> bool {
    if let Some(held) = lease.as_mut() {
        if held.still_held().await {
            return true;
        }
        tracing::warn!(task, "task lease lost");
        *lease = None;
    }
    match coordination.try_lease(task).await {
        Ok(Some(taken)) => {
            tracing::info!(task, "task lease taken: this instance runs it");
            *lease = Some(taken);
            true
        }
        Ok(None) => false,
        Err(error) => {
            tracing::warn!(task, error = %error, "task lease unavailable");
            false
        }
    }
}

/// The start of an idle-based pass: flush the in-memory activity (so the
/// decision sees every heartbeat), then list the previews in `state` (all
/// when `None`). An error when the store cannot be read; the task logs it
/// and keeps it in its summary.
pub async fn flushed_previews(
    service: &LifecycleService,
    state: Option<PreviewState>,
    task: &'static str,
) -> Result<Vec<PreviewRecord>, String> {
    if let Err(error) = service.flush_activity().await {
        tracing::warn!(task, error = %error, "activity flush failed; deciding on stored activity");
    }
    service.list(state).await.map_err(|error| {
        tracing::warn!(task, error = %error, "listing previews failed");
        format!("listing previews failed: {error}")
    })
}
