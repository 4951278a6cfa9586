//! Choosing where previews run: the driver `--driver` (or the presence of a
//! Fly token) selects, and what that platform puts in front of the API (the
//! local platform's edge proxy for `preview-<appId>.localhost`; nothing for
//! Fly, whose own proxy serves previews). The lifecycle sees only the seam.

use std::sync::Arc;

use crate::config::{DriverKind, ServeArgs};
use crate::fly::FlyDriver;
use crate::lifecycle::LifecycleService;
use crate::lifecycle::driver::PreviewDriver;
use crate::local::{LocalDriver, LocalDriverConfig};

pub struct Platform {
    pub kind: DriverKind,
    pub driver: Arc<dyn PreviewDriver>,
}

impl Platform {
    /// Opens the selected platform. `proxy_port` is the port this provisioner
    /// bound, on which local previews are served.
    pub async fn open(args: &ServeArgs, proxy_port: u16) -> anyhow::Result<Platform> {
        let kind = args.driver_kind();
        // Said at start, so a token left in the environment never picks Fly silently.
        let why = match args.lifecycle.driver {
            Some(_) => "--driver",
            None if kind == DriverKind::Fly => "FLY_API_TOKEN is set and --driver is not",
            None => "no FLY_API_TOKEN and no --driver",
        };
        let driver: Arc<dyn PreviewDriver> = match kind {
            DriverKind::Fly => {
                let fly = &args.fly;
                let driver = FlyDriver::from_args(fly)?;
                tracing::info!(
                    driver = "fly", chosen_by = why, org = %fly.fly_org_slug,
                    deployment = fly.deployment.as_deref().unwrap_or_default(),
                    app_names = %format!("{}<appId>", fly.fly_app_prefix), api = %fly.fly_api_url,
                    "previews run on Fly"
                );
                Arc::new(driver)
            }
            DriverKind::Local => {
                tracing::info!(
                    driver = "local",
                    chosen_by = why,
                    "previews run on this machine"
                );
                let config = LocalDriverConfig::from_args(args, proxy_port)?;
                Arc::new(LocalDriver::open(config).await?)
            }
        };
        Ok(Platform { kind, driver })
    }

    /// The API router with whatever the platform serves in front of it.
    pub fn in_front(
        &self,
        router: axum::Router,
        lifecycle: Arc<LifecycleService>,
        settings: crate::settings::SettingsService,
    ) -> axum::Router {
        match self.kind {
            DriverKind::Local => crate::local::proxy::in_front(router, lifecycle, settings),
            DriverKind::Fly => router,
        }
    }
}
