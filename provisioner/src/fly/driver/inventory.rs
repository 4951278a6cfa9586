//! Finding our previews on Fly, for the reconciler: apps of the organization
//! named `preview-<appId>` that are ours, because their machines carry our
//! metadata or (no machine yet) their private network is named after the
//! app, as `create_app` makes it.

use sync_protocol::AppId;

use super::{FlyData, FlyDriver, parse_state};
use crate::fly::FlyError;
use crate::fly::machine_config::{MANAGED_BY_VALUE, METADATA_APP_ID, METADATA_MANAGED_BY};
use crate::lifecycle::driver::{DriverError, MachineState};

impl FlyDriver {
    pub(super) async fn list_previews(
        &self,
    ) -> Result<Vec<(AppId, MachineState, FlyData)>, DriverError> {
        let apps = self.client.list_apps(&self.config.org_slug).await?;
        let mut previews = Vec::new();
        for app in apps {
            let Some(app_id) = app
                .name
                .strip_prefix("preview-")
                .and_then(|id| AppId::parse(id).ok())
            else {
                continue;
            };
            let filter = [(METADATA_MANAGED_BY, MANAGED_BY_VALUE)];
            let machines = match self.client.list_machines(&app.name, &filter).await {
                Ok(machines) => machines,
                // Deleted between the two calls.
                Err(FlyError::NotFound { .. }) => continue,
                Err(error) => return Err(error.into()),
            };
            let ours = machines
                .iter()
                .filter(|m| m.metadata(METADATA_APP_ID) == Some(app_id.as_str()));
            let live = ours
                .clone()
                .find(|m| m.state != "destroyed")
                .or_else(|| ours.clone().next());
            match live {
                Some(machine) => previews.push((
                    app_id,
                    parse_state(&machine.state),
                    FlyData {
                        machine_id: Some(machine.id.clone()),
                        ..FlyData::default()
                    },
                )),
                None if app.network.as_deref() == Some(app.name.as_str()) => {
                    previews.push((app_id, MachineState::Absent, FlyData::default()));
                }
                None => {}
            }
        }
        Ok(previews)
    }
}
