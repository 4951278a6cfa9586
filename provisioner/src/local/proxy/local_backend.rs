//! The proxy's view of local previews: whether one exists and whether it
//! sleeps come from the lifecycle service (which also wakes it and records
//! activity), the port of a running one from the driver seam's
//! `loopback_port`: the driver alone knows whether its process is alive now.

use std::sync::Arc;

use async_trait::async_trait;
use sync_protocol::AppId;

use super::{PreviewAccess, ProxyBackend, Target};
use crate::lifecycle::{LifecycleError, LifecycleService, PreviewState, unshare};

pub struct LocalPreviews {
    lifecycle: Arc<LifecycleService>,
    settings: crate::settings::SettingsService,
}

impl LocalPreviews {
    pub fn new(
        lifecycle: Arc<LifecycleService>,
        settings: crate::settings::SettingsService,
    ) -> LocalPreviews {
        LocalPreviews {
            lifecycle,
            settings,
        }
    }
}

#[async_trait]
impl ProxyBackend for LocalPreviews {
    async fn target(&self, app_id: &AppId) -> anyhow::Result<Target> {
        if let Some(port) = self.lifecycle.driver().loopback_port(app_id) {
            return Ok(Target::Running { port });
        }
        match self.lifecycle.get(app_id).await {
            Ok(record)
                if matches!(record.state, PreviewState::Deleting | PreviewState::Deleted) =>
            {
                Ok(Target::Unknown)
            }
            Ok(_) => Ok(Target::Asleep),
            Err(LifecycleError::NotFound(_)) => Ok(Target::Unknown),
            Err(error) => Err(error.into()),
        }
    }

    async fn wake(&self, app_id: &AppId) -> anyhow::Result<()> {
        let in_flight = self.lifecycle.wake(app_id).await?;
        in_flight.await.map_err(unshare)?;
        Ok(())
    }

    async fn touch(&self, app_id: &AppId) {
        self.lifecycle.touch(app_id);
    }

    async fn access(&self, app_id: &AppId) -> anyhow::Result<PreviewAccess> {
        Ok(self.settings.access(app_id).await?)
    }
}
