//! The five provisioning steps. Each is idempotent: run again after a crash
//! it finds its work done (the app exists, the IPs are there, a machine with
//! our metadata is found) and only records it.

use std::collections::BTreeMap;
use std::time::Duration;

use sync_protocol::AppId;
use tokio::time::Instant;

use super::{FlyData, FlyDriver};
use crate::fly::machine_config::{SECRET_SERVER_URL, SECRET_SYNC_TOKEN, preview_machine_request};
use crate::fly::types::{CreateAppRequest, ImageRef, IpAssignmentType, Machine};
use crate::fly::{FlyError, Identity};
use crate::lifecycle::driver::{DriverError, PreviewSpec};

/// How long a machine may be missing from lists after its create (Fly's
/// lists are eventually consistent: flyctl `test/preflight/testlib/test_env.go`).
const LIST_LAG_ALLOWANCE: Duration = Duration::from_secs(5);

impl FlyDriver {
    #[tracing::instrument(skip_all, fields(app_id = %app_id))]
    pub(super) async fn create_app(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<String, DriverError> {
        // Named once: later steps and calls use the stored name, whatever the prefix becomes.
        let name = data
            .app_name
            .get_or_insert_with(|| self.config.identity.app_name(app_id))
            .clone();
        let key = data
            .create_key
            .get_or_insert_with(|| format!("{name}-{:016x}", rand::random::<u64>()))
            .clone();
        Identity::check_app_name(&name).map_err(DriverError::permanent)?;
        let request = CreateAppRequest {
            name: name.clone(),
            org_slug: self.config.org_slug.clone(),
            // Its own private network, so previews of different users cannot
            // reach each other; its name carries our deployment, marking the app ours.
            network: Some(self.config.identity.network(&name)),
            idempotency_key: Some(key),
        };
        self.client.create_app(&request).await?;
        // Reads lag the create: the next steps address the app, so wait until it answers.
        let budget = self.config.visibility_budget;
        let app = self.client.wait_for_app(&name, budget).await?;
        Ok(format!("app {name} ready (id {})", app.id))
    }

    pub(super) async fn assign_ips(
        &self,
        app_id: &AppId,
        data: &FlyData,
    ) -> Result<String, DriverError> {
        let name = self.app_name(app_id, data);
        let kinds = [IpAssignmentType::SharedV4, IpAssignmentType::V6];
        let allocated = self.client.ensure_ips(&name, &kinds).await?;
        Ok(match allocated.len() {
            0 => "shared IPv4 and IPv6 already assigned".to_owned(),
            _ => format!("assigned {allocated:?}"),
        })
    }

    pub(super) async fn set_secrets(
        &self,
        spec: &PreviewSpec,
        data: &mut FlyData,
    ) -> Result<String, DriverError> {
        let values = BTreeMap::from([
            (SECRET_SYNC_TOKEN.to_owned(), spec.sync_token.expose()),
            (SECRET_SERVER_URL.to_owned(), spec.server_url.clone()),
        ]);
        let version = self
            .client
            .set_secrets(&self.app_name(&spec.app_id, data), values)
            .await?;
        match version {
            Some(version) => {
                data.secrets_version = Some(version);
                Ok(format!(
                    "set {SECRET_SYNC_TOKEN} and {SECRET_SERVER_URL} (secrets version {version})"
                ))
            }
            None => Ok(format!("set {SECRET_SYNC_TOKEN} and {SECRET_SERVER_URL}")),
        }
    }

    pub(super) async fn create_machine(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<String, DriverError> {
        let name = self.app_name(app_id, data);
        let mut settings = self.config.machine.clone();
        // A replacement runs the digest the first machine resolved, unless
        // the configured image changed since.
        if let Some(pinned) = &data.pinned_image
            && data.pinned_from.as_ref() == Some(&settings.image)
        {
            settings.image = pinned.clone();
        }
        let request = preview_machine_request(
            &settings,
            &self.config.identity,
            app_id,
            data.secrets_version,
        );
        // A create whose answer was lost may still have made the machine, so
        // every attempt first looks for one carrying our metadata; lists lag
        // writes, so after such a failure the look lasts a while.
        let mut last_error = None;
        for attempt in 0..3u32 {
            let window = match attempt {
                0 => Duration::ZERO,
                _ => LIST_LAG_ALLOWANCE.min(self.config.visibility_budget),
            };
            if let Some(machine) = self.find_machine_within(app_id, data, window).await? {
                data.machine_id = Some(machine.id.clone());
                return Ok(format!("machine {} exists ({})", machine.id, machine.state));
            }
            match self.client.create_machine(&name, &request).await {
                Ok(machine) => {
                    data.machine_id = Some(machine.id.clone());
                    return Ok(format!(
                        "created machine {} in {}",
                        machine.id, machine.region
                    ));
                }
                Err(error) if error.is_transient() => last_error = Some(error),
                Err(error) => return Err(error.into()),
            }
        }
        Err(last_error.map_or_else(
            || DriverError::transient("machine not created"),
            DriverError::from,
        ))
    }

    /// Our machine of `app_id`, looking again every 100 ms for up to `window`.
    async fn find_machine_within(
        &self,
        app_id: &AppId,
        data: &FlyData,
        window: Duration,
    ) -> Result<Option<Machine>, FlyError> {
        let deadline = Instant::now() + window;
        loop {
            let found = self.find_machine(app_id, data).await?;
            if found.is_some() || Instant::now() >= deadline {
                return Ok(found);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn wait_started(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<String, DriverError> {
        let machine_id = self.require_machine(app_id, data).await?;
        // A machine just created may answer 404 for a moment.
        let budget = self.config.visibility_budget;
        let name = self.app_name(app_id, data);
        let machine = self
            .client
            .wait_for_machine(&name, &machine_id, budget)
            .await?;
        // Exits and checks decide when it is ready: `started` is not enough.
        // A machine that went to sleep before we looked (autostop) is woken there.
        let booted = self
            .await_boot(&name, &machine_id, machine.version(), 0, None)
            .await?;
        // What the tag resolved to: replacements run the same image, even
        // after the tag moved (fly-go `Machine.FullImageRef`).
        if let Some(pinned) = booted.image_ref.as_ref().and_then(ImageRef::pinned) {
            data.pinned_image = Some(pinned);
            data.pinned_from = Some(self.config.machine.image.clone());
        }
        Ok(format!("machine {machine_id} started, checks passing"))
    }
}
