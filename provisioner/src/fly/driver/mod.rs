//! The Fly driver: each preview is a Fly app `preview-<appId>` holding one
//! machine, made through the Machines API (`crate::fly`, the only module
//! that talks to Fly).
//!
//! Provisioning is six idempotent steps: create the app (reusing it when an
//! earlier attempt got through), assign a shared IPv4 and an IPv6 so
//! `https://preview-<appId>.fly.dev` answers, set the sync token and server
//! URL as app secrets, create the machine (after looking for one carrying our
//! metadata, so a crash between Fly's answer and our store never makes two),
//! wait until it is started with its checks passing, and wait until its URL
//! answers through Fly (`fly::url_probe`). What later calls need (the app
//! name, the machine id, the secrets version) is kept in `DriverData`.

mod boot;
mod inventory;
mod lease;
mod power;
mod states;
mod steps;
mod teardown;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sync_protocol::AppId;

use crate::fly::machine_config::{
    MANAGED_BY_VALUE, METADATA_APP_ID, METADATA_DEPLOYMENT, METADATA_MANAGED_BY,
    PreviewMachineSettings, check_memory_mb,
};
use crate::fly::types::Machine;
use crate::fly::url_probe::{UrlProbe, public_url};
use crate::fly::{FlyArgs, FlyClient, FlyClientConfig, FlyError, Identity};
use crate::lifecycle::driver::{
    DriverError, MachineState, PlatformDriver, PreviewSpec, Steps, StopMode, as_text,
};
pub use states::{machine_state, parse_state};

/// The provisioning steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlyStep {
    CreateApp,
    AssignIps,
    SetSecrets,
    CreateMachine,
    WaitStarted,
    WaitUrl,
}

impl Steps for FlyStep {
    const ALL: &'static [FlyStep] = &[
        FlyStep::CreateApp,
        FlyStep::AssignIps,
        FlyStep::SetSecrets,
        FlyStep::CreateMachine,
        FlyStep::WaitStarted,
        FlyStep::WaitUrl,
    ];

    fn name(self) -> &'static str {
        match self {
            FlyStep::CreateApp => "create_app",
            FlyStep::AssignIps => "assign_ips",
            FlyStep::SetSecrets => "set_secrets",
            FlyStep::CreateMachine => "create_machine",
            FlyStep::WaitStarted => "wait_started",
            FlyStep::WaitUrl => "wait_url",
        }
    }
}

/// What the driver remembers about a preview (stored as strings, with the
/// keys earlier versions wrote).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlyData {
    /// The preview's machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_id: Option<String>,
    /// The secrets version the machine must boot with.
    #[serde(default, with = "as_text", skip_serializing_if = "Option::is_none")]
    pub secrets_version: Option<i64>,
    /// The idempotency key of the app create, reused on retries.
    #[serde(
        default,
        rename = "create_app_key",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_key: Option<String>,
    /// The image by digest (`registry/repository@sha256:…`) Fly resolved
    /// for the first machine, which replacements run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_image: Option<String>,
    /// The configured image `pinned_image` was resolved from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_from: Option<String>,
    /// The preview's Fly app, named once by `create_app` and kept for its
    /// life, whatever the prefix becomes (the store's `platform_name`).
    #[serde(
        default,
        rename = "platform_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FlyDriverConfig {
    /// Organization that owns the preview apps.
    pub org_slug: String,
    /// This deployment and its app names (see `fly::identity`).
    pub identity: Identity,
    pub machine: PreviewMachineSettings,
    /// How long one start, stop or provisioning wait may take in all.
    pub wait_budget: Duration,
    /// How long a just-created app or machine may answer 404 before it counts
    /// as missing (fly-go's `WaitForApp` waits up to a minute).
    pub visibility_budget: Duration,
    /// Where Fly's proxy is reached to check a preview's URL answers
    /// (`None`: the public URL itself; see `fly::url_probe`).
    pub proxy_url: Option<String>,
    /// How long a preview's URL may take to answer after a boot.
    pub url_budget: Duration,
}

pub struct FlyDriver {
    client: FlyClient,
    config: FlyDriverConfig,
    probe: UrlProbe,
}

impl FlyDriver {
    pub fn new(client: FlyClient, config: FlyDriverConfig) -> FlyDriver {
        let probe = UrlProbe::new(config.proxy_url.clone(), config.url_budget);
        FlyDriver {
            client,
            config,
            probe,
        }
    }

    /// The driver `serve` uses when a Fly token is configured.
    pub fn from_args(args: &FlyArgs) -> anyhow::Result<FlyDriver> {
        let token = args
            .fly_api_token
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the fly driver needs FLY_API_TOKEN"))?;
        let deployment = args.deployment.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "the fly driver needs --deployment (PROVISIONER_DEPLOYMENT), e.g. production: \
                 a Fly organization is shared, and a provisioner only touches previews of its own deployment"
            )
        })?;
        let identity =
            Identity::new(deployment, &args.fly_app_prefix).map_err(anyhow::Error::msg)?;
        check_memory_mb(args.preview_memory_mb).map_err(anyhow::Error::msg)?;
        let client = FlyClient::new(FlyClientConfig::new(args.fly_api_url.clone(), token))?;
        let config = FlyDriverConfig {
            org_slug: args.fly_org_slug.clone(),
            identity,
            machine: PreviewMachineSettings::from_args(args),
            wait_budget: Duration::from_secs(180),
            visibility_budget: Duration::from_secs(60),
            proxy_url: args.fly_proxy_url.clone(),
            url_budget: Duration::from_secs(60),
        };
        Ok(FlyDriver::new(client, config))
    }

    pub fn client(&self) -> &FlyClient {
        &self.client
    }

    /// The Fly app of `app_id`'s preview: the name it was made with, else
    /// (not made yet, or made before names were kept) `<prefix><appId>`.
    pub fn app_name(&self, app_id: &AppId, data: &FlyData) -> String {
        data.app_name
            .clone()
            .unwrap_or_else(|| self.config.identity.app_name(app_id))
    }

    /// The live machine of `app_id` that carries our metadata, if any.
    async fn find_machine(
        &self,
        app_id: &AppId,
        data: &FlyData,
    ) -> Result<Option<Machine>, FlyError> {
        let filter = [
            (METADATA_APP_ID, app_id.as_str()),
            (METADATA_MANAGED_BY, MANAGED_BY_VALUE),
            (METADATA_DEPLOYMENT, self.config.identity.deployment()),
        ];
        let machines = self
            .client
            .list_machines(&self.app_name(app_id, data), &filter)
            .await?;
        Ok(machines
            .into_iter()
            .find(|m| !matches!(m.state.as_str(), "destroyed" | "destroying")))
    }

    /// The machine id from `data`, else found by metadata.
    async fn machine_id(&self, app_id: &AppId, data: &FlyData) -> Result<Option<String>, FlyError> {
        if let Some(id) = &data.machine_id {
            return Ok(Some(id.clone()));
        }
        Ok(self
            .find_machine(app_id, data)
            .await?
            .map(|machine| machine.id))
    }

    async fn require_machine(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<String, DriverError> {
        match self.machine_id(app_id, data).await {
            Ok(Some(id)) => {
                data.machine_id = Some(id.clone());
                Ok(id)
            }
            Ok(None) | Err(FlyError::NotFound { .. }) => Err(DriverError::permanent(format!(
                "preview {app_id} has no machine"
            ))),
            Err(error) => Err(error.into()),
        }
    }

    async fn wait(
        &self,
        name: &str,
        machine_id: &str,
        states: &[&str],
        version: Option<&str>,
    ) -> Result<(), FlyError> {
        let budget = self.config.wait_budget;
        self.client
            .wait_for_state(name, machine_id, states, budget, version)
            .await
    }
}

#[async_trait]
impl PlatformDriver for FlyDriver {
    type Step = FlyStep;
    type Data = FlyData;

    async fn run_step(
        &self,
        step: FlyStep,
        spec: &PreviewSpec,
        data: &mut FlyData,
    ) -> Result<String, DriverError> {
        match step {
            FlyStep::CreateApp => self.create_app(&spec.app_id, data).await,
            FlyStep::AssignIps => self.assign_ips(&spec.app_id, data).await,
            FlyStep::SetSecrets => self.set_secrets(spec, data).await,
            FlyStep::CreateMachine => self.create_machine(&spec.app_id, data).await,
            FlyStep::WaitStarted => self.wait_started(&spec.app_id, data).await,
            FlyStep::WaitUrl => {
                let name = self.app_name(&spec.app_id, data);
                let took = self.probe.wait_answering(&name).await?;
                Ok(format!(
                    "{} answers through Fly (after {} ms)",
                    public_url(&name),
                    took.as_millis()
                ))
            }
        }
    }

    async fn state(&self, app_id: &AppId, data: &FlyData) -> Result<MachineState, DriverError> {
        let machine_id = match self.machine_id(app_id, data).await {
            Ok(Some(id)) => id,
            Ok(None) | Err(FlyError::NotFound { .. }) => return Ok(MachineState::Absent),
            Err(error) => return Err(error.into()),
        };
        match self
            .client
            .get_machine(&self.app_name(app_id, data), &machine_id)
            .await
        {
            Ok(machine) => Ok(machine_state(&machine)),
            Err(FlyError::NotFound { .. }) => Ok(MachineState::Absent),
            Err(error) => Err(error.into()),
        }
    }

    async fn start(&self, app_id: &AppId, data: &mut FlyData) -> Result<(), DriverError> {
        self.start_machine(app_id, data).await
    }

    async fn stop(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
        mode: StopMode,
    ) -> Result<(), DriverError> {
        self.stop_machine(app_id, data, mode).await
    }

    /// Deletes the app and returns once Fly answers 404 for it (see `teardown.rs`).
    async fn destroy(&self, app_id: &AppId, data: &FlyData) -> Result<(), DriverError> {
        self.destroy_app(&self.app_name(app_id, data)).await
    }

    /// Deletes just the machine, or, when the app is gone, starts over (see `teardown.rs`).
    async fn discard_machine(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<FlyStep, DriverError> {
        self.discard(app_id, data).await
    }

    fn url(&self, app_id: &AppId, data: &FlyData) -> String {
        public_url(&self.app_name(app_id, data))
    }

    /// Apps named `preview-<appId>` whose machines carry our metadata (see `inventory.rs`).
    async fn list(&self) -> Result<Vec<(AppId, MachineState, FlyData)>, DriverError> {
        self.list_previews().await
    }
}
