//! The Fly driver: each preview is a Fly app `preview-<appId>` holding one
//! machine, made through the Machines API (`crate::fly`, the only module
//! that talks to Fly).
//!
//! Provisioning is five idempotent steps: create the app (reusing it when an
//! earlier attempt got through), assign a shared IPv4 and an IPv6 so
//! `https://preview-<appId>.fly.dev` answers, set the sync token and server
//! URL as app secrets, create the machine (after looking for one carrying our
//! metadata, so a crash between Fly's answer and our store never makes two),
//! and wait until it is started. What later calls need (the machine id, the
//! secrets version) is kept in `DriverData`.

mod inventory;
mod steps;

use std::time::Duration;

use async_trait::async_trait;
use sync_protocol::AppId;

use super::driver::{
    DriverData, DriverError, MachineState, PlatformPreview, PreviewDriver, PreviewSpec, StopMode,
};
use crate::config::ServeArgs;
use crate::fly::machine_config::{
    MANAGED_BY_VALUE, METADATA_APP_ID, METADATA_MANAGED_BY, PreviewMachineSettings,
};
use crate::fly::types::{Machine, StopRequest};
use crate::fly::{FlyClient, FlyClientConfig, FlyError};

/// The provisioning steps, in order.
pub const STEPS: &[&str] = &[
    "create_app",
    "assign_ips",
    "set_secrets",
    "create_machine",
    "wait_started",
];

/// `DriverData` key: the preview's machine id.
pub const DATA_MACHINE_ID: &str = "machine_id";
/// `DriverData` key: the secrets version the machine must boot with.
pub const DATA_SECRETS_VERSION: &str = "secrets_version";
/// `DriverData` key: the idempotency key of the app create, reused on retries.
pub const DATA_CREATE_KEY: &str = "create_app_key";

#[derive(Clone, Debug)]
pub struct FlyDriverConfig {
    /// Organization that owns the preview apps.
    pub org_slug: String,
    pub machine: PreviewMachineSettings,
    /// How long one start, stop or provisioning wait may take in all.
    pub wait_budget: Duration,
}

pub struct FlyDriver {
    client: FlyClient,
    config: FlyDriverConfig,
}

impl FlyDriver {
    pub fn new(client: FlyClient, config: FlyDriverConfig) -> FlyDriver {
        FlyDriver { client, config }
    }

    /// The driver `serve` uses when a Fly token is configured.
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<FlyDriver> {
        let token = args
            .fly_api_token
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the fly driver needs FLY_API_TOKEN"))?;
        let client = FlyClient::new(FlyClientConfig::new(args.fly_api_url.clone(), token))?;
        let config = FlyDriverConfig {
            org_slug: args.fly_org_slug.clone(),
            machine: PreviewMachineSettings::from_args(args),
            wait_budget: Duration::from_secs(180),
        };
        Ok(FlyDriver::new(client, config))
    }

    pub fn client(&self) -> &FlyClient {
        &self.client
    }

    /// The live machine of `app_id` that carries our metadata, if any.
    async fn find_machine(&self, app_id: &AppId) -> Result<Option<Machine>, FlyError> {
        let filter = [
            (METADATA_APP_ID, app_id.as_str()),
            (METADATA_MANAGED_BY, MANAGED_BY_VALUE),
        ];
        let machines = self
            .client
            .list_machines(&app_id.preview_name(), &filter)
            .await?;
        Ok(machines
            .into_iter()
            .find(|m| !matches!(m.state.as_str(), "destroyed" | "destroying")))
    }

    /// The machine id from `data`, else found by metadata (and remembered).
    async fn machine_id(
        &self,
        app_id: &AppId,
        data: &DriverData,
    ) -> Result<Option<String>, FlyError> {
        if let Some(id) = data.get(DATA_MACHINE_ID) {
            return Ok(Some(id.clone()));
        }
        Ok(self.find_machine(app_id).await?.map(|machine| machine.id))
    }

    async fn require_machine(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
    ) -> Result<String, DriverError> {
        match self.machine_id(app_id, data).await {
            Ok(Some(id)) => {
                data.insert(DATA_MACHINE_ID.to_owned(), id.clone());
                Ok(id)
            }
            Ok(None) | Err(FlyError::NotFound { .. }) => Err(DriverError::Permanent(format!(
                "preview {app_id} has no machine"
            ))),
            Err(error) => Err(error.into()),
        }
    }

    async fn wait(
        &self,
        app_id: &AppId,
        machine_id: &str,
        states: &[&str],
        version: Option<&str>,
    ) -> Result<(), FlyError> {
        let name = app_id.preview_name();
        let budget = self.config.wait_budget;
        self.client
            .wait_for_state(&name, machine_id, states, budget, version)
            .await
    }
}

#[async_trait]
impl PreviewDriver for FlyDriver {
    fn steps(&self) -> &'static [&'static str] {
        STEPS
    }

    async fn run_step(
        &self,
        step: &str,
        spec: &PreviewSpec,
        data: &mut DriverData,
    ) -> Result<String, DriverError> {
        match step {
            "create_app" => self.create_app(&spec.app_id, data).await,
            "assign_ips" => self.assign_ips(&spec.app_id).await,
            "set_secrets" => self.set_secrets(spec, data).await,
            "create_machine" => self.create_machine(&spec.app_id, data).await,
            "wait_started" => self.wait_started(&spec.app_id, data).await,
            other => Err(DriverError::Permanent(format!("unknown step {other}"))),
        }
    }

    async fn state(&self, app_id: &AppId, data: &DriverData) -> Result<MachineState, DriverError> {
        let machine_id = match self.machine_id(app_id, data).await {
            Ok(Some(id)) => id,
            Ok(None) | Err(FlyError::NotFound { .. }) => return Ok(MachineState::Absent),
            Err(error) => return Err(error.into()),
        };
        match self
            .client
            .get_machine(&app_id.preview_name(), &machine_id)
            .await
        {
            Ok(machine) => Ok(parse_state(&machine.state)),
            Err(FlyError::NotFound { .. }) => Ok(MachineState::Absent),
            Err(error) => Err(error.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(app = %app_id))]
    async fn start(&self, app_id: &AppId, data: &mut DriverData) -> Result<(), DriverError> {
        let machine_id = self.require_machine(app_id, data).await?;
        let name = app_id.preview_name();
        let machine = self.client.get_machine(&name, &machine_id).await?;
        match parse_state(&machine.state) {
            MachineState::Started => return Ok(()),
            MachineState::Destroying | MachineState::Destroyed => {
                return Err(DriverError::Permanent(format!(
                    "machine {machine_id} is destroyed"
                )));
            }
            // Fly refuses to start a machine that is on its way down; let it land first.
            MachineState::Stopping | MachineState::Suspending => {
                self.wait(
                    app_id,
                    &machine_id,
                    &["stopped", "suspended"],
                    machine.version(),
                )
                .await?;
            }
            _ => {}
        }
        self.client.start_machine(&name, &machine_id, None).await?;
        self.wait(app_id, &machine_id, &["started"], machine.version())
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app = %app_id, mode = ?mode))]
    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
        mode: StopMode,
    ) -> Result<(), DriverError> {
        let machine_id = match self.machine_id(app_id, data).await {
            Ok(Some(id)) => id,
            Ok(None) | Err(FlyError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        let name = app_id.preview_name();
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
                    .wait(app_id, &machine_id, &landed, machine.version())
                    .await?);
            }
            // Suspend needs a started machine; a starting one is let finish.
            MachineState::Starting | MachineState::Created => {
                self.wait(app_id, &machine_id, &["started"], machine.version())
                    .await?
            }
            _ => {}
        }
        if mode == StopMode::Suspend {
            match self.client.suspend_machine(&name, &machine_id, None).await {
                Ok(()) => {
                    return Ok(self
                        .wait(app_id, &machine_id, &["suspended"], machine.version())
                        .await?);
                }
                // Fly cannot snapshot every machine (memory, swap); a full stop is Fly's own fallback.
                Err(FlyError::Unexpected { status, body }) if (400..500).contains(&status) => {
                    tracing::warn!(status, body, "suspend refused; stopping instead");
                }
                Err(error) => return Err(error.into()),
            }
        }
        self.client
            .stop_machine(&name, &machine_id, &StopRequest::default(), None)
            .await?;
        self.wait(app_id, &machine_id, &["stopped"], machine.version())
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(app = %app_id))]
    async fn destroy(&self, app_id: &AppId, _data: &DriverData) -> Result<(), DriverError> {
        match self.client.delete_app(&app_id.preview_name()).await {
            Ok(()) | Err(FlyError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes just the machine (the app, IPs and secrets stay) and resumes at `create_machine`.
    async fn discard_machine(
        &self,
        app_id: &AppId,
        data: &mut DriverData,
    ) -> Result<&'static str, DriverError> {
        if let Some(machine_id) = self.machine_id(app_id, data).await.ok().flatten() {
            match self
                .client
                .delete_machine(&app_id.preview_name(), &machine_id, true)
                .await
            {
                Ok(()) | Err(FlyError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        data.remove(DATA_MACHINE_ID);
        Ok("create_machine")
    }

    fn url(&self, app_id: &AppId) -> String {
        format!("https://{}.fly.dev", app_id.preview_name())
    }

    /// Apps named `preview-<appId>` whose machines carry our metadata (see `inventory.rs`).
    async fn list(&self) -> Result<Vec<PlatformPreview>, DriverError> {
        self.list_previews().await
    }
}

impl From<FlyError> for DriverError {
    fn from(error: FlyError) -> DriverError {
        if error.is_transient() {
            DriverError::Transient(error.to_string())
        } else {
            DriverError::Permanent(error.to_string())
        }
    }
}

/// Fly's state names; ones we do not model (`replacing`, `launch_failed`...) count as failed or transient.
pub fn parse_state(state: &str) -> MachineState {
    match state {
        "created" => MachineState::Created,
        "starting" | "restarting" | "updating" | "replacing" => MachineState::Starting,
        "started" => MachineState::Started,
        "stopping" => MachineState::Stopping,
        "stopped" => MachineState::Stopped,
        "suspending" => MachineState::Suspending,
        "suspended" => MachineState::Suspended,
        "destroying" => MachineState::Destroying,
        "destroyed" | "replaced" | "migrated" => MachineState::Destroyed,
        _ => MachineState::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fly_states_fold_into_machine_states() {
        assert_eq!(parse_state("started"), MachineState::Started);
        assert_eq!(parse_state("suspending"), MachineState::Suspending);
        assert_eq!(parse_state("replacing"), MachineState::Starting);
        assert_eq!(parse_state("replaced"), MachineState::Destroyed);
        assert_eq!(parse_state("launch_failed"), MachineState::Failed);
    }

    #[test]
    fn transient_fly_errors_stay_transient() {
        let transient = DriverError::from(FlyError::Server {
            status: 503,
            body: String::new(),
        });
        assert!(matches!(transient, DriverError::Transient(_)));
        let refused = DriverError::from(FlyError::NameTaken {
            name: "preview-x".to_owned(),
        });
        assert!(matches!(refused, DriverError::Permanent(_)));
    }
}
