//! Finding our previews on Fly, for the reconciler. An organization is
//! shared (staging, production, a laptop with a token), so an app is ours
//! only when its private network carries our deployment (`fly::identity`),
//! and its machine is the one carrying our deployment in its metadata.
//! Anything else is another owner's and is never reported, so the
//! reconciler can neither adopt nor destroy it. The prefix is not part of
//! the test: a preview keeps the name it was made with, so one made before
//! `--fly-app-prefix` changed is still found (its app id read from its
//! machine's metadata).

use super::{FlyData, FlyDriver, machine_state};
use crate::fly::FlyError;
use crate::fly::machine_config::{
    MANAGED_BY_VALUE, METADATA_APP_ID, METADATA_DEPLOYMENT, METADATA_MANAGED_BY,
};
use crate::lifecycle::driver::{DriverError, MachineState};
use sync_protocol::AppId;

impl FlyDriver {
    pub(super) async fn list_previews(
        &self,
    ) -> Result<Vec<(AppId, MachineState, FlyData)>, DriverError> {
        let identity = &self.config.identity;
        let apps = self.client.list_apps(&self.config.org_slug).await?;
        let mut previews = Vec::new();
        for app in apps {
            if app.network.as_deref() != Some(identity.network(&app.name).as_str()) {
                tracing::debug!(fly_app = %app.name, network = ?app.network, "not this deployment's app; left alone");
                continue;
            }
            let filter = [
                (METADATA_MANAGED_BY, MANAGED_BY_VALUE),
                (METADATA_DEPLOYMENT, identity.deployment()),
            ];
            let machines = match self.client.list_machines(&app.name, &filter).await {
                Ok(machines) => machines,
                // Deleted between the two calls.
                Err(FlyError::NotFound { .. }) => continue,
                Err(error) => return Err(error.into()),
            };
            // Named by our prefix, else by the app id its machines carry.
            let app_id = identity.app_id_of(&app.name).or_else(|| {
                machines
                    .iter()
                    .find_map(|m| AppId::parse(m.metadata(METADATA_APP_ID)?).ok())
            });
            let Some(app_id) = app_id else {
                tracing::debug!(fly_app = %app.name, "ours, but names no app id yet; looked at again next pass");
                continue;
            };
            let ours = machines
                .iter()
                .filter(|m| m.metadata(METADATA_APP_ID) == Some(app_id.as_str()));
            let live = ours
                .clone()
                .find(|m| m.state != "destroyed")
                .or_else(|| ours.clone().next());
            let (state, data) = match live {
                Some(machine) => (
                    machine_state(machine),
                    FlyData {
                        machine_id: Some(machine.id.clone()),
                        app_name: Some(app.name.clone()),
                        ..FlyData::default()
                    },
                ),
                None => (
                    MachineState::Absent,
                    FlyData {
                        app_name: Some(app.name.clone()),
                        ..FlyData::default()
                    },
                ),
            };
            previews.push((app_id, state, data));
        }
        Ok(previews)
    }
}
