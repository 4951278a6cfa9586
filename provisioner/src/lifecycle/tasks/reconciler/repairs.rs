//! The reconciler's repairs, each applied under the app's lock and only
//! when the record is unchanged since the pass read it.

use std::collections::HashSet;

use sync_protocol::AppId;
use time::OffsetDateTime;

use super::{Reconciler, Repair};
use crate::lifecycle::driver::{MachineState, PlatformPreview};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::{self, EventKind, PreviewRecord, PreviewState, StepRecord};

impl Reconciler {
    /// Applies `repair` if the record is unchanged and nobody holds its lock.
    pub(super) async fn repair(
        &self,
        snapshot: &PreviewRecord,
        repair: Repair,
    ) -> Result<bool, LifecycleError> {
        let service = &self.service;
        let Some(guard) = service.try_lock_app(&snapshot.app_id).await else {
            return Ok(false);
        };
        let mut record = service.get(&snapshot.app_id).await?;
        if record.state != snapshot.state || record.updated_at != snapshot.updated_at {
            return Ok(false);
        }
        match repair {
            Repair::Resume => {}
            Repair::FinishDelete => service.destroy_locked(&mut record).await?,
            Repair::ReplaceMissing if !self.confirmed_missing(&record).await => return Ok(false),
            Repair::ReplaceMissing => self.replace(&mut record, "the machine is gone").await?,
            Repair::Replace(reason) => self.replace(&mut record, reason).await?,
            Repair::Adopt(observed) => {
                if observed == PreviewState::Running {
                    // Started by a visit through the platform's proxy: that is activity.
                    record.last_activity_at = service.now();
                }
                tracing::info!(app_id = %record.app_id, from = %record.state, to = %observed, "adopting the platform's state");
                service
                    .transition(&mut record, observed, EventKind::State)
                    .await?;
            }
        }
        drop(guard);
        if matches!(
            repair,
            Repair::Resume | Repair::Replace(_) | Repair::ReplaceMissing
        ) {
            // Runs on its own task; the next pass sees how it went.
            let _in_flight = service.provision_in_flight(&snapshot.app_id);
        }
        Ok(true)
    }

    /// Whether a direct read of the preview's machine (not a list) also
    /// finds it gone; a machine found again is forgotten as missing.
    async fn confirmed_missing(&self, record: &PreviewRecord) -> bool {
        let state = self
            .service
            .driver()
            .state(&record.app_id, &record.driver_data)
            .await;
        let missing = matches!(state, Ok(MachineState::Absent | MachineState::Destroyed));
        if !missing {
            tracing::info!(app_id = %record.app_id, ?state, "the machine missing from the list is there");
            self.seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .absent
                .remove(&record.app_id);
        }
        missing
    }

    /// Throws the machine away and sends the preview back to provisioning
    /// at the step the driver names.
    async fn replace(
        &self,
        record: &mut PreviewRecord,
        reason: &str,
    ) -> Result<(), LifecycleError> {
        let service = &self.service;
        tracing::warn!(app_id = %record.app_id, "replacing the machine: {reason}");
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .absent
            .remove(&record.app_id);
        let from = service
            .driver()
            .discard_machine(&record.app_id, &mut record.driver_data)
            .await?;
        let Some(first) = record
            .steps
            .iter()
            .position(|step| step.name == from.name())
        else {
            return Err(LifecycleError::Internal(format!(
                "the driver resumes at step {from}, which the preview does not record"
            )));
        };
        for step in &mut record.steps[first..] {
            *step = StepRecord::pending(&step.name);
        }
        record.error = Some(format!("replacing the machine: {reason}"));
        service
            .transition(record, PreviewState::Provisioning, EventKind::State)
            .await?;
        Ok(())
    }

    /// Tracks first sightings and returns the orphans seen for longer than the grace period.
    pub(super) fn orphans_past_grace<'a>(
        &self,
        orphans: &[&'a PlatformPreview],
        now: OffsetDateTime,
    ) -> Vec<&'a PlatformPreview> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current: HashSet<&AppId> = orphans.iter().map(|orphan| &orphan.app_id).collect();
        seen.orphans.retain(|app_id, _| current.contains(app_id));
        let grace = self.service.config().orphan_grace;
        orphans
            .iter()
            .filter(|orphan| {
                let first_seen = *seen.orphans.entry(orphan.app_id.clone()).or_insert(now);
                now - first_seen >= grace
            })
            .copied()
            .collect()
    }

    pub(super) async fn destroy_orphan(
        &self,
        orphan: &PlatformPreview,
    ) -> Result<bool, LifecycleError> {
        let service = &self.service;
        let Some(_guard) = service.try_lock_app(&orphan.app_id).await else {
            return Ok(false);
        };
        // The store may have learned of it since the snapshot (a provisioning that just began).
        if let Some(record) = service.load(&orphan.app_id).await?
            && model::exists_on_platform(record.state)
        {
            return Ok(false);
        }
        service
            .driver()
            .destroy(&orphan.app_id, &orphan.data)
            .await?;
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .orphans
            .remove(&orphan.app_id);
        tracing::info!(app_id = %orphan.app_id, "orphan platform preview destroyed");
        Ok(true)
    }
}
