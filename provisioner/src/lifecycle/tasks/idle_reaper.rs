//! The idle reaper: stops (or suspends, per `--autostop`) each running
//! preview whose last activity (a heartbeat, a file write, a wake) is older
//! than `--idle-timeout`. Each activation first flushes the in-memory
//! activity to the store, then decides from the store alone.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use serde::Serialize;

use super::{flushed_previews, run_periodically};
use crate::lifecycle::driver::StopMode;
use crate::lifecycle::model::PreviewState;
use crate::lifecycle::service::{Autostop, LifecycleService};

/// Driver calls one activation makes at once: enough to put a crowd of idle
/// previews to sleep in one pass without bursting into the platform's rate limits.
const PARALLEL_STOPS: usize = 8;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReaperSummary {
    pub running: usize,
    pub idle: usize,
    pub put_to_sleep: usize,
    pub failed: usize,
    /// Why the pass did nothing: the store could not be read.
    pub error: Option<String>,
}

super::summary_with_failed_and_error!(ReaperSummary);

pub async fn run(
    service: Arc<LifecycleService>,
    period: Duration,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
) {
    run_periodically("idle_reaper", &service, period, notify, shutdown, || {
        activate(&service)
    })
    .await;
}

/// One pass; logs its summary and returns it for tests and benchmarks.
pub async fn activate(service: &Arc<LifecycleService>) -> ReaperSummary {
    let mut summary = ReaperSummary::default();
    let mode = match service.config().autostop {
        Autostop::Off => return summary,
        Autostop::Stop => StopMode::Stop,
        Autostop::Suspend => StopMode::Suspend,
    };
    let running = match flushed_previews(service, Some(PreviewState::Running), "idle_reaper").await
    {
        Ok(running) => running,
        Err(error) => {
            summary.error = Some(error);
            return summary;
        }
    };
    summary.running = running.len();
    let idle_since = service.now() - service.config().idle_timeout;
    let idle: Vec<_> = running
        .into_iter()
        .filter(|record| record.last_activity_at <= idle_since)
        .map(|record| record.app_id)
        .collect();
    summary.idle = idle.len();
    let outcomes: Vec<_> = futures::stream::iter(idle)
        .map(|app_id| async move { service.put_to_sleep_if_idle(&app_id, mode).await })
        .buffer_unordered(PARALLEL_STOPS)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Ok(true) => summary.put_to_sleep += 1,
            Ok(false) => {}
            Err(error) => {
                summary.failed += 1;
                tracing::warn!(error = %error, "idle reaper: stop failed; retrying next pass");
            }
        }
    }
    if summary.idle > 0 {
        tracing::info!(?summary, "idle reaper pass");
    } else {
        tracing::debug!(?summary, "idle reaper pass");
    }
    summary
}
