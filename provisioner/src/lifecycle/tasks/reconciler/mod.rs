//! The reconciler: compares the store with what the platform holds and
//! repairs the difference.
//!
//! - A preview stuck in `provisioning` (a crash, a transient failure) resumes.
//! - A preview left in `deleting` is destroyed.
//! - A machine that failed, or stayed in a transient state (an unreachable
//!   host included) for longer than `stuck_after`, is replaced by re-running
//!   the driver's machine steps. One that is gone is replaced only when two
//!   passes missed it and a direct read of it confirms (lists lag on Fly).
//! - A machine that stopped or started by itself (Fly's proxy autostops and
//!   autostarts) is adopted: the record follows the platform.
//! - A platform preview carrying our marks that the store does not know (or
//!   knows as deleted) is destroyed once it has been seen for `orphan_grace`.
//!
//! Each activation reads the store *before* the platform: a preview whose
//! provisioning finished in between is then on the platform list, so it is
//! never taken for a lost machine. Every repair re-reads the record under the
//! app's lock and skips the app if anything changed since the snapshot.

mod repairs;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_protocol::AppId;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use serde::Serialize;

use super::run_periodically;
use crate::lifecycle::driver::{MachineState, PlatformPreview};
use crate::lifecycle::model::{self, PreviewRecord, PreviewState};
use crate::lifecycle::service::LifecycleService;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileSummary {
    pub previews: usize,
    pub platform: usize,
    pub resumed: usize,
    pub deletes_finished: usize,
    pub replaced: usize,
    pub adopted: usize,
    pub orphans_destroyed: usize,
    pub failed: usize,
    /// Why the pass did nothing: the store or the platform could not be listed.
    pub error: Option<String>,
}

super::summary_with_failed_and_error!(ReconcileSummary);

pub struct Reconciler {
    service: Arc<LifecycleService>,
    /// What earlier activations saw; a std mutex never held across an await.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Platform previews absent from the store, and when each was first seen.
    orphans: HashMap<AppId, OffsetDateTime>,
    /// Machines the platform list did not show, and when first missed.
    absent: HashMap<AppId, OffsetDateTime>,
    /// Machines in a transient state, which one, and since when.
    transient: HashMap<AppId, (MachineState, OffsetDateTime)>,
}

#[derive(Clone, Copy, Debug)]
enum Repair {
    Resume,
    FinishDelete,
    Replace(&'static str),
    /// Missing from two lists: replaced once a direct read confirms it.
    ReplaceMissing,
    Adopt(PreviewState),
}

pub async fn run(
    reconciler: Arc<Reconciler>,
    period: Duration,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
) {
    run_periodically(
        "reconciler",
        &reconciler.service,
        period,
        notify,
        shutdown,
        || reconciler.activate(),
    )
    .await;
}

impl Reconciler {
    pub fn new(service: Arc<LifecycleService>) -> Reconciler {
        Reconciler {
            service,
            seen: Mutex::new(Seen::default()),
        }
    }

    pub async fn activate(&self) -> ReconcileSummary {
        let mut summary = ReconcileSummary::default();
        let records = match self.service.list(None).await {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(error = %error, "reconciler: listing previews failed");
                summary.error = Some(format!("listing previews failed: {error}"));
                return summary;
            }
        };
        let platform = match self.service.driver().list().await {
            Ok(platform) => platform,
            Err(error) => {
                tracing::warn!(error = %error, "reconciler: listing the platform failed");
                summary.error = Some(format!("listing the platform failed: {error}"));
                return summary;
            }
        };
        summary.previews = records.len();
        summary.platform = platform.len();
        let now = self.service.now();
        let by_app: HashMap<&AppId, &PlatformPreview> = platform
            .iter()
            .map(|preview| (&preview.app_id, preview))
            .collect();

        for record in &records {
            let Some(repair) = self.decide(record, by_app.get(&record.app_id).copied(), now) else {
                continue;
            };
            match self.repair(record, repair).await {
                Ok(false) => {}
                Ok(true) => match repair {
                    Repair::Resume => summary.resumed += 1,
                    Repair::FinishDelete => summary.deletes_finished += 1,
                    Repair::Replace(_) | Repair::ReplaceMissing => summary.replaced += 1,
                    Repair::Adopt(_) => summary.adopted += 1,
                },
                Err(error) => {
                    summary.failed += 1;
                    tracing::warn!(app_id = %record.app_id, ?repair, error = %error, "reconciler: repair failed");
                }
            }
        }

        let known: HashSet<&AppId> = records
            .iter()
            .filter(|record| model::exists_on_platform(record.state))
            .map(|record| &record.app_id)
            .collect();
        let orphans: Vec<&PlatformPreview> = platform
            .iter()
            .filter(|preview| !known.contains(&preview.app_id))
            .collect();
        for orphan in self.orphans_past_grace(&orphans, now) {
            match self.destroy_orphan(orphan).await {
                Ok(true) => summary.orphans_destroyed += 1,
                Ok(false) => {}
                Err(error) => {
                    summary.failed += 1;
                    tracing::warn!(app_id = %orphan.app_id, error = %error, "reconciler: orphan destroy failed");
                }
            }
        }
        let repaired = summary.resumed
            + summary.deletes_finished
            + summary.replaced
            + summary.adopted
            + summary.orphans_destroyed
            + summary.failed;
        if repaired > 0 {
            tracing::info!(?summary, "reconciler pass");
        } else {
            tracing::debug!(?summary, "reconciler pass");
        }
        summary
    }

    fn decide(
        &self,
        record: &PreviewRecord,
        platform: Option<&PlatformPreview>,
        now: OffsetDateTime,
    ) -> Option<Repair> {
        let service = &self.service;
        match record.state {
            PreviewState::Deleted | PreviewState::Failed => None,
            PreviewState::Provisioning => {
                (!service.provisions.is_running(&record.app_id)).then_some(Repair::Resume)
            }
            PreviewState::Deleting => Some(Repair::FinishDelete),
            PreviewState::Waking if service.wakes.is_running(&record.app_id) => None,
            PreviewState::Waking
            | PreviewState::Stopping
            | PreviewState::Running
            | PreviewState::Stopped
            | PreviewState::Suspended => {
                let machine = platform.map_or(MachineState::Absent, |preview| preview.state);
                let mut seen = self
                    .seen
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if machine == MachineState::Failed {
                    seen.transient.remove(&record.app_id);
                    seen.absent.remove(&record.app_id);
                    return Some(Repair::Replace("the machine failed"));
                }
                if matches!(machine, MachineState::Absent | MachineState::Destroyed) {
                    seen.transient.remove(&record.app_id);
                    // Lists lag: one reading is not enough. Replace on the
                    // second pass that misses it, after a direct look (see `repair`).
                    let first = *seen.absent.entry(record.app_id.clone()).or_insert(now);
                    return (first < now).then_some(Repair::ReplaceMissing);
                }
                seen.absent.remove(&record.app_id);
                match model::state_from_machine(machine) {
                    Some(observed) => {
                        seen.transient.remove(&record.app_id);
                        (observed != record.state).then_some(Repair::Adopt(observed))
                    }
                    None => {
                        let entry = seen
                            .transient
                            .entry(record.app_id.clone())
                            .or_insert((machine, now));
                        if entry.0 != machine {
                            *entry = (machine, now);
                        }
                        (now - entry.1 > service.config().stuck_after)
                            .then_some(Repair::Replace("the machine is stuck in a transient state"))
                    }
                }
            }
        }
    }
}
