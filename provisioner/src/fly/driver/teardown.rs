//! Taking a preview down, the way Fly does it: deleting an app is
//! asynchronous (`DELETE /v1/apps/{name}` answers 202 and the app, its name
//! still taken, lingers while its machines are destroyed), so a destroy is
//! done only once the app answers 404. Until then the preview stays
//! `deleting` and a new provisioning cannot adopt the dying app.

use std::time::Duration;

use sync_protocol::AppId;
use tokio::time::Instant;

use super::{FlyData, FlyDriver, FlyStep};
use crate::fly::FlyError;
use crate::lifecycle::driver::DriverError;

impl FlyDriver {
    #[tracing::instrument(skip_all, fields(fly_app = %name))]
    pub(super) async fn destroy_app(&self, name: &str) -> Result<(), DriverError> {
        match self.client.delete_app(name).await {
            Ok(()) | Err(FlyError::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        self.wait_app_gone(name).await
    }

    /// Reads the app until it answers 404, within the driver's wait budget.
    async fn wait_app_gone(&self, name: &str) -> Result<(), DriverError> {
        let deadline = Instant::now() + self.config.wait_budget;
        let mut delay = Duration::from_millis(20);
        loop {
            match self.client.get_app(name).await {
                Err(FlyError::NotFound { .. }) => return Ok(()),
                Ok(_) if Instant::now() + delay < deadline => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Ok(_) => {
                    return Err(DriverError::transient(format!(
                        "app {name} is still being deleted"
                    )));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Deletes just the machine (the app, IPs and secrets stay) and resumes
    /// at `create_machine`; when the app itself is gone (deleted out of band,
    /// from the dashboard or `fly apps destroy`), everything is made again
    /// from `create_app`.
    pub(super) async fn discard(
        &self,
        app_id: &AppId,
        data: &mut FlyData,
    ) -> Result<FlyStep, DriverError> {
        let name = self.app_name(app_id, data);
        match self.client.get_app(&name).await {
            Err(FlyError::NotFound { .. }) => {
                tracing::warn!("the preview's app is gone; making it again");
                *data = FlyData::default();
                return Ok(FlyStep::CreateApp);
            }
            Ok(_) => {}
            Err(error) => return Err(error.into()),
        }
        if let Some(machine_id) = self.machine_id(app_id, data).await.ok().flatten() {
            let lease = match self.take_lease(&name, &machine_id, "destroy").await {
                Ok(lease) => Some(lease),
                // Already gone, or never visible: nothing to hold.
                Err(DriverError::Permanent(_)) => None,
                Err(error) => return Err(error),
            };
            let nonce = lease.as_ref().map(|lease| lease.nonce.as_str());
            let deleted = self
                .client
                .delete_machine(&name, &machine_id, true, nonce)
                .await;
            if let Some(lease) = lease {
                self.release_lease(lease).await;
            }
            match deleted {
                Ok(()) | Err(FlyError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        data.machine_id = None;
        Ok(FlyStep::CreateMachine)
    }
}
