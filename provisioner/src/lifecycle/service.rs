//! The lifecycle service: the one place that changes a preview's state.
//!
//! Every operation on one app runs under that app's lock, so a wake, an
//! idle stop and a delete of the same preview never interleave their driver
//! calls; operations on different apps run in parallel. The lock is the
//! store's [`Coordination`]: across every instance sharing a PostgreSQL
//! database, in-process with SQLite. Provisioning and
//! waking also go through a [`SingleFlight`], so concurrent callers share one
//! driver call and the work finishes even if every caller disconnects.
//! Each state change is saved before the driver call it announces and
//! broadcast to event subscribers after.

use std::sync::Arc;

use sync_protocol::AppId;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::lifecycle::activity::ActivityCache;
use crate::lifecycle::app_files::AppFiles;
use crate::lifecycle::clock::Clock;
use crate::lifecycle::driver::{DriverData, PreviewDriver};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::{EventKind, PreviewEvent, PreviewRecord, PreviewState};
pub use crate::lifecycle::settings::{Autostop, LifecycleConfig};
use crate::lifecycle::single_flight::SingleFlight;
use crate::lifecycle::tasks::TaskRegistry;
use crate::store::coordination::{AppLock, Coordination, LocalCoordination};
use crate::store::previews::PreviewStore;

pub struct LifecycleService {
    pub(crate) driver: Arc<dyn PreviewDriver>,
    pub(crate) store: Arc<dyn PreviewStore>,
    pub(crate) files: Arc<dyn AppFiles>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: LifecycleConfig,
    pub(crate) activity: ActivityCache,
    events: broadcast::Sender<PreviewEvent>,
    /// One operation per app (across instances on PostgreSQL), and the
    /// background tasks' leases.
    pub(crate) coordination: Arc<dyn Coordination>,
    pub(crate) provisions: SingleFlight,
    pub(crate) wakes: SingleFlight,
    /// The background tasks' last summaries.
    tasks: TaskRegistry,
    /// Cancelled at shutdown: ends the loops and the event streams, which
    /// would otherwise hold the server's graceful shutdown open.
    shutdown: CancellationToken,
}

impl LifecycleService {
    /// One instance: the app locks and task leases are in this process.
    pub fn new(
        driver: Arc<dyn PreviewDriver>,
        store: Arc<dyn PreviewStore>,
        files: Arc<dyn AppFiles>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
    ) -> Arc<LifecycleService> {
        let coordination = Arc::new(LocalCoordination::default());
        LifecycleService::coordinated(driver, store, files, clock, config, coordination)
    }

    /// With the store's coordination, which other instances may share.
    pub fn coordinated(
        driver: Arc<dyn PreviewDriver>,
        store: Arc<dyn PreviewStore>,
        files: Arc<dyn AppFiles>,
        clock: Arc<dyn Clock>,
        config: LifecycleConfig,
        coordination: Arc<dyn Coordination>,
    ) -> Arc<LifecycleService> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(LifecycleService {
            driver,
            store,
            files,
            clock,
            config,
            activity: ActivityCache::default(),
            events,
            coordination,
            provisions: SingleFlight::default(),
            wakes: SingleFlight::default(),
            tasks: TaskRegistry::default(),
            shutdown: CancellationToken::new(),
        })
    }

    pub fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    pub fn driver(&self) -> &Arc<dyn PreviewDriver> {
        &self.driver
    }

    /// The background tasks registered on this service and how each last ran.
    pub fn tasks(&self) -> &TaskRegistry {
        &self.tasks
    }

    pub fn files(&self) -> &Arc<dyn AppFiles> {
        &self.files
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The preview's record with its unflushed activity folded in.
    pub async fn get(&self, app_id: &AppId) -> Result<PreviewRecord, LifecycleError> {
        let mut record = self
            .load(app_id)
            .await?
            .ok_or_else(|| LifecycleError::NotFound(app_id.clone()))?;
        if let Some(pending) = self.activity.pending(app_id) {
            record.last_activity_at = record.last_activity_at.max(pending);
        }
        Ok(record)
    }

    pub async fn list(
        &self,
        state: Option<PreviewState>,
    ) -> Result<Vec<PreviewRecord>, LifecycleError> {
        self.store
            .list_previews(state)
            .await
            .map_err(LifecycleError::Store)
    }

    /// Activity from anywhere (a heartbeat, a file write, a proxied request):
    /// costs a map insert; the idle reaper flushes it to the store.
    pub fn touch(&self, app_id: &AppId) {
        self.activity.touch(app_id, self.clock.now());
    }

    /// Records a visit the preview's gateway served `ago` (its daemon reports
    /// them): activity the platform's own proxy does not act on. The daemon
    /// runs beside untrusted code: an `ago` past what a date can hold is no
    /// visit (and no panic).
    pub fn touch_visit(&self, app_id: &AppId, ago: std::time::Duration) {
        let at = time::Duration::try_from(ago)
            .ok()
            .and_then(|ago| self.clock.now().checked_sub(ago));
        if let Some(at) = at {
            self.activity.touch(app_id, at);
        }
    }

    /// Writes unflushed activity to the store; on failure keeps it for the next flush.
    pub async fn flush_activity(&self) -> Result<usize, LifecycleError> {
        let entries = self.activity.take();
        let count = entries.len();
        if count == 0 {
            return Ok(0);
        }
        if let Err(error) = self.store.record_activity(&entries).await {
            self.activity.restore(entries);
            return Err(LifecycleError::Store(error));
        }
        Ok(count)
    }

    /// Cancelled when the provisioner shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Ends the loops and event streams and flushes activity; the driver's
    /// own shutdown (the local driver stops its processes) follows.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        if let Err(error) = self.flush_activity().await {
            tracing::warn!(error = %error, "activity flush at shutdown failed");
        }
        self.driver.shutdown().await;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<PreviewEvent> {
        self.events.subscribe()
    }

    /// Destroys the preview on the platform; its files and its record (as
    /// `deleted`) are kept. Deleting a deleted preview does nothing.
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub async fn delete(&self, app_id: &AppId) -> Result<PreviewRecord, LifecycleError> {
        let _guard = self.lock_app(app_id).await?;
        let mut record = self.get(app_id).await?;
        self.destroy_locked(&mut record).await?;
        Ok(record)
    }

    /// Destroys the preview of `record`, whose app lock the caller holds.
    pub(crate) async fn destroy_locked(
        &self,
        record: &mut PreviewRecord,
    ) -> Result<(), LifecycleError> {
        if record.state == PreviewState::Deleted {
            return Ok(());
        }
        self.transition(record, PreviewState::Deleting, EventKind::State)
            .await?;
        if let Err(error) = self
            .driver
            .destroy(&record.app_id, &record.driver_data)
            .await
        {
            // Left in `deleting`: the reconciler finishes the job.
            record.error = Some(format!("delete failed: {error}"));
            self.save(record, EventKind::State).await?;
            return Err(error.into());
        }
        // Revoked before the preview is reported deleted, so a `deleted`
        // preview never has a token that still reads the files.
        self.files
            .revoke_sync_tokens(&record.app_id)
            .await
            .map_err(LifecycleError::Files)?;
        record.driver_data = DriverData::new();
        record.error = None;
        self.transition(record, PreviewState::Deleted, EventKind::State)
            .await?;
        tracing::info!(app_id = %record.app_id, "preview destroyed; files kept");
        Ok(())
    }

    pub(crate) async fn load(
        &self,
        app_id: &AppId,
    ) -> Result<Option<PreviewRecord>, LifecycleError> {
        self.store
            .get_preview(app_id)
            .await
            .map_err(LifecycleError::Store)
    }

    /// Sets the state, saves the record and tells subscribers.
    pub(crate) async fn transition(
        &self,
        record: &mut PreviewRecord,
        state: PreviewState,
        kind: EventKind,
    ) -> Result<(), LifecycleError> {
        record.set_state(state, self.clock.now());
        self.save(record, kind).await
    }

    pub(crate) async fn save(
        &self,
        record: &mut PreviewRecord,
        kind: EventKind,
    ) -> Result<(), LifecycleError> {
        record.updated_at = self.clock.now();
        self.store
            .save_preview(record)
            .await
            .map_err(LifecycleError::Store)?;
        self.announce(record, kind);
        Ok(())
    }

    /// Tells subscribers about `record` without saving it.
    pub(crate) fn announce(&self, record: &PreviewRecord, kind: EventKind) {
        // No subscriber is fine: events are a view, not a queue.
        let _ = self.events.send(PreviewEvent {
            kind,
            record: record.clone(),
        });
    }

    /// Waits until no operation runs on the app (on any instance), then holds it.
    pub(crate) async fn lock_app(&self, app_id: &AppId) -> Result<AppLock, LifecycleError> {
        self.coordination
            .lock_app(app_id)
            .await
            .map_err(LifecycleError::Store)
    }

    /// The app's lock if nobody holds it: background loops skip busy apps
    /// instead of queueing behind a long provisioning. A store that cannot
    /// say counts as busy: the next pass tries again.
    pub(crate) async fn try_lock_app(&self, app_id: &AppId) -> Option<AppLock> {
        match self.coordination.try_lock_app(app_id).await {
            Ok(lock) => lock,
            Err(error) => {
                tracing::warn!(app_id = %app_id, error = %error, "app lock unavailable; skipped");
                None
            }
        }
    }
}
