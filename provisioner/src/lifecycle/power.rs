//! Waking and putting to sleep. A wake is single-flight per app: every caller
//! that arrives while one runs shares it, so fifty concurrent wakes make one
//! driver `start`. A wake is done when the machine is started and its daemon
//! has reported applying at least the files revision current at that time.

use std::sync::Arc;
use std::time::Duration;

use sync_protocol::AppId;

use crate::lifecycle::driver::{MachineState, StopMode};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::{EventKind, PreviewRecord, PreviewState};
use crate::lifecycle::provision::ready;
use crate::lifecycle::service::{Autostop, LifecycleService};
use crate::lifecycle::single_flight::InFlight;

/// How often a waiting wake asks the files store what the daemon applied.
const SYNC_POLL_INTERVAL: Duration = Duration::from_millis(50);

impl LifecycleService {
    /// Starts or resumes the preview. The returned future resolves once the
    /// machine is started; the start goes on whether or not it is awaited.
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub async fn wake(self: &Arc<Self>, app_id: &AppId) -> Result<InFlight, LifecycleError> {
        self.touch(app_id);
        let record = self.get(app_id).await?;
        match record.state {
            PreviewState::Running => {
                // The record can lag the platform by a loop interval (a local
                // daemon that died, Fly's own autostop): ask before answering.
                match self.driver.state(app_id, &record.driver_data).await {
                    Ok(MachineState::Stopped | MachineState::Suspended | MachineState::Created) => {
                        Ok(self.join_wake(app_id, true))
                    }
                    _ => Ok(ready(record)),
                }
            }
            PreviewState::Provisioning => Ok(self.provision_in_flight(app_id)),
            PreviewState::Waking
            | PreviewState::Stopping
            | PreviewState::Stopped
            | PreviewState::Suspended => Ok(self.join_wake(app_id, false)),
            PreviewState::Deleting | PreviewState::Deleted => Err(LifecycleError::WrongState {
                app_id: app_id.clone(),
                state: record.state.as_str(),
                hint: "provision it again first",
            }),
            PreviewState::Failed => Err(LifecycleError::WrongState {
                app_id: app_id.clone(),
                state: record.state.as_str(),
                hint: "provisioning failed; provision it again",
            }),
        }
    }

    /// Wakes the preview and waits, at most `timeout`, until it is started
    /// and its daemon has caught up with the files.
    pub async fn wake_and_wait(
        self: &Arc<Self>,
        app_id: &AppId,
        timeout: Duration,
    ) -> Result<PreviewRecord, LifecycleError> {
        let in_flight = self.wake(app_id).await?;
        let waited = tokio::time::timeout(timeout, async {
            let record = in_flight.await.map_err(unshare)?;
            self.wait_synced(app_id).await?;
            Ok(record)
        })
        .await;
        match waited {
            Ok(result) => result,
            Err(_elapsed) => Err(LifecycleError::Timeout(app_id.clone())),
        }
    }

    /// Returns once the daemon reports a revision at least the app's current one.
    /// An app without files has nothing to sync and does not wait.
    async fn wait_synced(&self, app_id: &AppId) -> Result<(), LifecycleError> {
        let revision = self
            .files
            .files_revision(app_id)
            .await
            .map_err(LifecycleError::Files)?;
        if revision == 0 {
            return Ok(());
        }
        loop {
            let status = self
                .files
                .sync_status(app_id)
                .await
                .map_err(LifecycleError::Files)?;
            if status.is_some_and(|status| status.applied_revision >= revision) {
                return Ok(());
            }
            tokio::time::sleep(SYNC_POLL_INTERVAL).await;
        }
    }

    fn join_wake(self: &Arc<Self>, app_id: &AppId, running_is_stale: bool) -> InFlight {
        let service = Arc::clone(self);
        let owned_app_id = app_id.clone();
        self.wakes.join(app_id, move || async move {
            service
                .run_wake(&owned_app_id, running_is_stale)
                .await
                .map_err(Arc::new)
        })
    }

    /// Starts the machine. `running_is_stale`: the record says `running` but
    /// the driver just said the machine is not, so start it anyway.
    async fn run_wake(
        &self,
        app_id: &AppId,
        running_is_stale: bool,
    ) -> Result<PreviewRecord, LifecycleError> {
        let _guard = self.lock_app(app_id).await?;
        let mut record = self.get(app_id).await?;
        let asleep = matches!(
            record.state,
            PreviewState::Waking
                | PreviewState::Stopping
                | PreviewState::Stopped
                | PreviewState::Suspended
        );
        let stale_running = running_is_stale && record.state == PreviewState::Running;
        if !(asleep || stale_running) {
            // Started, deleted or re-provisioned while this wake waited for the lock.
            return Ok(record);
        }
        let previous = record.state;
        // Announced, not saved: a crash mid-start leaves the stored state as
        // it was, and the reconciler adopts whatever the machine became. That
        // keeps a wake to one store write.
        record.set_state(PreviewState::Waking, self.clock.now());
        self.announce(&record, EventKind::State);
        if let Err(error) = self.driver.start(app_id, &mut record.driver_data).await {
            tracing::warn!(error = %error, "start failed");
            record.error = Some(format!("wake failed: {error}"));
            let back = if previous == PreviewState::Waking {
                PreviewState::Stopped
            } else {
                previous
            };
            self.transition(&mut record, back, EventKind::State).await?;
            return Err(error.into());
        }
        record.error = None;
        record.last_activity_at = self.clock.now();
        self.transition(&mut record, PreviewState::Running, EventKind::State)
            .await?;
        tracing::info!(from = %previous, "preview woken");
        Ok(record)
    }

    /// Stops or suspends a running preview that is still idle once its lock is
    /// held (a heartbeat may have arrived meanwhile). Returns whether it slept.
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub async fn put_to_sleep_if_idle(
        &self,
        app_id: &AppId,
        mode: StopMode,
    ) -> Result<bool, LifecycleError> {
        let Some(_guard) = self.try_lock_app(app_id).await else {
            return Ok(false);
        };
        let mut record = self.get(app_id).await?;
        let idle_since = self.clock.now() - self.config.idle_timeout;
        if record.state != PreviewState::Running || record.last_activity_at > idle_since {
            return Ok(false);
        }
        let asleep = self.put_to_sleep(&mut record, mode).await?;
        tracing::info!(state = %asleep, "idle preview put to sleep");
        Ok(true)
    }

    /// The operator's stop (`POST .../preview/stop`): the idle reaper's stop,
    /// asked now. Files, machine and settings stay; the next wake or visit
    /// starts it again. Refused unless the preview runs.
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub async fn stop(&self, app_id: &AppId) -> Result<PreviewRecord, LifecycleError> {
        let _guard = self.lock_app(app_id).await?;
        let mut record = self.get(app_id).await?;
        if record.state != PreviewState::Running {
            return Err(LifecycleError::NotRunning {
                app_id: app_id.clone(),
                state: record.state.as_str(),
            });
        }
        let mode = match self.config.autostop {
            Autostop::Suspend => StopMode::Suspend,
            Autostop::Stop | Autostop::Off => StopMode::Stop,
        };
        let asleep = self.put_to_sleep(&mut record, mode).await?;
        tracing::info!(state = %asleep, "preview stopped on request");
        Ok(record)
    }

    /// Stops or suspends a running preview whose app lock the caller holds;
    /// answers the state it went to sleep in.
    async fn put_to_sleep(
        &self,
        record: &mut PreviewRecord,
        mode: StopMode,
    ) -> Result<PreviewState, LifecycleError> {
        let app_id = record.app_id.clone();
        // Announced, not saved, as in `run_wake`: a crash mid-stop leaves
        // `running` stored and the reconciler adopts the machine's state.
        record.set_state(PreviewState::Stopping, self.clock.now());
        self.announce(record, EventKind::State);
        if let Err(error) = self
            .driver
            .stop(&app_id, &mut record.driver_data, mode)
            .await
        {
            record.error = Some(format!("stop failed: {error}"));
            self.transition(record, PreviewState::Running, EventKind::State)
                .await?;
            return Err(error.into());
        }
        let asleep = match mode {
            StopMode::Stop => PreviewState::Stopped,
            // A platform may end a suspend as a stop (Fly: "will attempt, but
            // is not guaranteed"): record what the machine became.
            StopMode::Suspend => match self.driver.state(&app_id, &record.driver_data).await {
                Ok(MachineState::Stopped) => PreviewState::Stopped,
                _ => PreviewState::Suspended,
            },
        };
        record.error = None;
        self.transition(record, asleep, EventKind::State).await?;
        Ok(asleep)
    }
}

/// The shared error of a single-flight operation, as the caller's own.
pub fn unshare(error: Arc<LifecycleError>) -> LifecycleError {
    Arc::try_unwrap(error).unwrap_or_else(LifecycleError::Shared)
}
