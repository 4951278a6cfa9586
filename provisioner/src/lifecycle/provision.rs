//! Provisioning: run the driver's steps in order, recording each one before
//! and after it runs. A step already `done` is skipped, so provisioning again
//! after a crash or a failure resumes at the step that did not finish; every
//! step is idempotent, so re-running the one that was `running` is safe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use sync_protocol::AppId;

use crate::lifecycle::driver::{DriverError, PreviewSpec, Step};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::{EventKind, PreviewRecord, PreviewState, StepStatus};
use crate::lifecycle::service::LifecycleService;
use crate::lifecycle::single_flight::{InFlight, Outcome};

impl LifecycleService {
    /// Creates the preview, or resumes or returns the one that exists. The
    /// returned future resolves when provisioning ends; the work goes on in
    /// the background whether or not anyone awaits it.
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub async fn provision(self: &Arc<Self>, app_id: &AppId) -> Result<InFlight, LifecycleError> {
        let record = match self.load(app_id).await? {
            Some(record) => record,
            None => {
                let fresh =
                    PreviewRecord::new(app_id.clone(), &self.driver.steps(), self.clock.now());
                if self
                    .store
                    .insert_preview(&fresh)
                    .await
                    .map_err(LifecycleError::Store)?
                {
                    tracing::info!("new preview");
                    fresh
                } else {
                    // Another request inserted it first: use theirs.
                    self.get(app_id).await?
                }
            }
        };
        match record.state {
            PreviewState::Provisioning | PreviewState::Failed | PreviewState::Deleted => {
                Ok(self.provision_in_flight(app_id))
            }
            // Already made: provisioning again is a no-op that returns it.
            _ => Ok(ready(record)),
        }
    }

    /// Joins (or starts) the app's provisioning.
    pub(crate) fn provision_in_flight(self: &Arc<Self>, app_id: &AppId) -> InFlight {
        let service = Arc::clone(self);
        let owned_app_id = app_id.clone();
        self.provisions.join(app_id, move || async move {
            service
                .run_provisioning(&owned_app_id)
                .await
                .map_err(Arc::new)
        })
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    async fn run_provisioning(&self, app_id: &AppId) -> Result<PreviewRecord, LifecycleError> {
        let _guard = self.lock_app(app_id).await?;
        let mut record = self.get(app_id).await?;
        let steps = self.driver.steps();
        match record.state {
            PreviewState::Provisioning => {
                let names_match = record.steps.len() == steps.len()
                    && record
                        .steps
                        .iter()
                        .zip(&steps)
                        .all(|(recorded, step)| recorded.name == step.name());
                if !names_match {
                    // Recorded by another driver (the provisioner was reconfigured).
                    record.restart_provisioning(&steps, self.clock.now());
                }
            }
            PreviewState::Failed | PreviewState::Deleted => {
                record.restart_provisioning(&steps, self.clock.now());
            }
            _ => return Ok(record),
        }
        record.error = None;
        self.save(&mut record, EventKind::State).await?;

        let sync_token = self
            .files
            .mint_sync_token(app_id)
            .await
            .map_err(LifecycleError::Files)?;
        let spec = PreviewSpec {
            app_id: app_id.clone(),
            sync_token,
            server_url: self.config.server_url.clone(),
        };
        for (index, step) in steps.into_iter().enumerate() {
            if record.steps[index].status == StepStatus::Done {
                continue;
            }
            self.run_one_step(&mut record, index, step, &spec).await?;
        }
        record.last_activity_at = self.clock.now();
        self.transition(&mut record, PreviewState::Running, EventKind::State)
            .await?;
        tracing::info!("preview running");
        Ok(record)
    }

    async fn run_one_step(
        &self,
        record: &mut PreviewRecord,
        index: usize,
        name: Step,
        spec: &PreviewSpec,
    ) -> Result<(), LifecycleError> {
        let started_at = self.clock.now();
        {
            let step = &mut record.steps[index];
            step.status = StepStatus::Running;
            step.started_at = Some(started_at);
            step.finished_at = None;
            step.duration_ms = None;
            step.log = None;
        }
        self.save(record, EventKind::Step).await?;

        let timer = Instant::now();
        let result = self.run_step_with_retries(name, spec, record).await;
        let step = &mut record.steps[index];
        step.finished_at = Some(self.clock.now());
        step.duration_ms = Some(u64::try_from(timer.elapsed().as_millis()).unwrap_or(u64::MAX));
        match result {
            Ok(log) => {
                tracing::info!(step = %name, duration_ms = step.duration_ms, "{log}");
                step.status = StepStatus::Done;
                step.log = Some(log);
                self.save(record, EventKind::Step).await
            }
            Err(error) => {
                tracing::warn!(step = %name, error = %error, "step failed");
                step.status = StepStatus::Failed;
                step.log = Some(error.to_string());
                record.error = Some(format!("step {name} failed: {error}"));
                // A transient failure stays `provisioning`: the reconciler resumes it.
                if !error.is_transient() {
                    record.set_state(PreviewState::Failed, self.clock.now());
                }
                self.save(record, EventKind::Step).await?;
                Err(error.into())
            }
        }
    }

    async fn run_step_with_retries(
        &self,
        name: Step,
        spec: &PreviewSpec,
        record: &mut PreviewRecord,
    ) -> Result<String, DriverError> {
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self
                .driver
                .run_step(name, spec, &mut record.driver_data)
                .await
            {
                Err(DriverError::Transient(reason)) if attempt < self.config.step_attempts => {
                    tracing::info!(step = %name, attempt, "transient failure, retrying: {reason}");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

/// An in-flight value that is already there.
pub(crate) fn ready(record: PreviewRecord) -> InFlight {
    let outcome: Outcome = Ok(record);
    futures::future::ready(outcome).boxed().shared()
}
