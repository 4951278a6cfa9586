//! The TTL sweeper: destroys the platform side of every preview idle longer
//! than `--delete-after`. Files and the record (as `deleted`) are kept, so
//! provisioning again brings the preview back with the same files.

use std::sync::Arc;
use std::time::Duration;

use sync_protocol::AppId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use serde::Serialize;

use super::{flushed_previews, run_periodically};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::PreviewState;
use crate::lifecycle::service::LifecycleService;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    pub expired: usize,
    pub destroyed: usize,
    pub failed: usize,
    /// Why the pass did nothing: the store could not be read.
    pub error: Option<String>,
}

super::summary_with_failed_and_error!(SweepSummary);

pub async fn run(
    service: Arc<LifecycleService>,
    period: Duration,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
) {
    run_periodically("ttl_sweeper", &service, period, notify, shutdown, || {
        activate(&service)
    })
    .await;
}

pub async fn activate(service: &Arc<LifecycleService>) -> SweepSummary {
    let mut summary = SweepSummary::default();
    let records = match flushed_previews(service, None, "ttl_sweeper").await {
        Ok(records) => records,
        Err(error) => {
            summary.error = Some(error);
            return summary;
        }
    };
    let expired_before = service.now() - service.config().delete_after;
    for record in records {
        if record.state == PreviewState::Deleted || record.last_activity_at > expired_before {
            continue;
        }
        summary.expired += 1;
        match service.delete_if_expired(&record.app_id).await {
            Ok(true) => summary.destroyed += 1,
            Ok(false) => {}
            Err(error) => {
                summary.failed += 1;
                tracing::warn!(app_id = %record.app_id, error = %error, "ttl sweeper: destroy failed");
            }
        }
    }
    if summary.expired > 0 {
        tracing::info!(?summary, "ttl sweeper pass");
    }
    summary
}

impl LifecycleService {
    /// Destroys the preview if it is still expired once its lock is held.
    async fn delete_if_expired(&self, app_id: &AppId) -> Result<bool, LifecycleError> {
        let Some(_guard) = self.try_lock_app(app_id).await else {
            return Ok(false);
        };
        let mut record = self.get(app_id).await?;
        let expired_before = self.now() - self.config().delete_after;
        if record.state == PreviewState::Deleted || record.last_activity_at > expired_before {
            return Ok(false);
        }
        self.destroy_locked(&mut record).await?;
        tracing::info!(app_id = %app_id, "expired preview destroyed; files kept");
        Ok(true)
    }
}
