//! Starting and putting a machine to sleep: each waits for Fly to report
//! the state it asked for, within the driver's wait budget.

use sync_protocol::AppId;

use super::boot::newest_event_ms;
use super::{FlyData, FlyDriver, parse_state};
use crate::fly::FlyError;
use crate::fly::types::StopRequest;
use crate::lifecycle::driver::{DriverError, MachineState, StopMode};

impl FlyDriver {
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub(super) async fn start_machine(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<(), DriverError> {
        // A preview made before names were kept is named now, for good.
        let name = self.app_name(app_id, data);
        data.app_name = Some(name.clone());
        let machine_id = self.require_machine(app_id, data).await?;
        let machine = self.client.get_machine(&name, &machine_id).await?;
        match parse_state(&machine.state) {
            MachineState::Started => return Ok(()),
            MachineState::Destroying | MachineState::Destroyed => {
                return Err(DriverError::permanent(format!(
                    "machine {machine_id} is destroyed"
                )));
            }
            // Fly refuses to start a machine that is on its way down; let it land first.
            MachineState::Stopping | MachineState::Suspending => {
                self.wait(
                    &name,
                    &machine_id,
                    &["stopped", "suspended"],
                    machine.version(),
                )
                .await?;
            }
            _ => {}
        }
        let since = newest_event_ms(&machine);
        let lease = self.take_lease(&name, &machine_id, "start").await?;
        let nonce = Some(lease.nonce.as_str());
        let started = match self.client.start_machine(&name, &machine_id, nonce).await {
            Ok(()) => self
                .await_boot(&name, &machine_id, machine.version(), since, nonce)
                .await
                .map(drop),
            Err(FlyError::Capacity { message }) => {
                self.replace_refused(app_id, data, &machine_id, &message, nonce)
                    .await
            }
            Err(error) => Err(error.into()),
        };
        self.release_lease(lease).await;
        started?;
        // Running means answering at its URL, through Fly's proxy.
        self.probe.wait_answering(&name).await.map(drop)
    }

    /// Fly cannot start the machine where it is (no volume holds it there):
    /// it is destroyed and a new one made, which Fly places on a host with
    /// room, instead of waiting for capacity that may not come.
    async fn replace_refused(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
        machine_id: &str,
        message: &str,
        nonce: Option<&str>,
    ) -> Result<(), DriverError> {
        tracing::warn!(machine = %machine_id, message, "start refused; replacing the machine");
        let name = self.app_name(app_id, data);
        match self
            .client
            .delete_machine(&name, machine_id, true, nonce)
            .await
        {
            Ok(()) | Err(FlyError::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        data.machine_id = None;
        self.create_machine(app_id, data).await?;
        self.wait_started(app_id, data).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app_id = %app_id, mode = ?mode))]
    pub(super) async fn stop_machine(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
        mode: StopMode,
    ) -> Result<(), DriverError> {
        let machine_id = match self.machine_id(app_id, data).await {
            Ok(Some(id)) => id,
            Ok(None) | Err(FlyError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let name = self.app_name(app_id, data);
        let machine = match self.client.get_machine(&name, &machine_id).await {
            Ok(machine) => machine,
            Err(FlyError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        match parse_state(&machine.state) {
            MachineState::Stopped
            | MachineState::Suspended
            | MachineState::Destroyed
            | MachineState::Absent => return Ok(()),
            MachineState::Stopping | MachineState::Suspending => {
                let landed = ["stopped", "suspended"];
                return Ok(self
                    .wait(&name, &machine_id, &landed, machine.version())
                    .await?);
            }
            // Suspend needs a started machine; a starting one is let finish.
            MachineState::Starting | MachineState::Created => {
                self.wait(&name, &machine_id, &["started"], machine.version())
                    .await?
            }
            _ => {}
        }
        let lease = self.take_lease(&name, &machine_id, "stop").await?;
        let stopped = self
            .sleep_leased(&name, &machine_id, machine.version(), mode, &lease.nonce)
            .await;
        self.release_lease(lease).await;
        stopped
    }

    /// Suspends or stops a started machine while holding its lease.
    async fn sleep_leased(
        &self,
        name: &str,
        machine_id: &str,
        version: Option<&str>,
        mode: StopMode,
        nonce: &str,
    ) -> Result<(), DriverError> {
        if mode == StopMode::Suspend {
            match self
                .client
                .suspend_machine(name, machine_id, Some(nonce))
                .await
            {
                // "Will attempt (but is not guaranteed)" (spec `Machines_suspend`):
                // it may end as a stop, which the lifecycle reads back with `state`.
                Ok(()) => {
                    let landed = ["suspended", "stopped"];
                    return Ok(self.wait(name, machine_id, &landed, version).await?);
                }
                // Fly cannot snapshot every machine (memory, swap); a full stop is Fly's own fallback.
                Err(FlyError::Unexpected { status, body }) if (400..500).contains(&status) => {
                    tracing::warn!(status, body, "suspend refused; stopping instead");
                }
                Err(error) => return Err(error.into()),
            }
        }
        let request = StopRequest::default();
        self.client
            .stop_machine(name, machine_id, &request, Some(nonce))
            .await?;
        self.wait(name, machine_id, &["stopped"], version).await?;
        Ok(())
    }
}
