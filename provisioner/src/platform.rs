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
        let driver: Arc<dyn PreviewDriver> = match kind {
            DriverKind::Fly => Arc::new(FlyDriver::from_args(&args.fly, args.lifecycle.autostop)?),
            DriverKind::Local => {
                let config = LocalDriverConfig::from_args(args, proxy_port)?;
                Arc::new(LocalDriver::open(config).await?)
            }
        };
        Ok(Platform { kind, driver })
    }

    /// The API router with whatever the platform serves in front of it.
    pub fn in_front(&self, router: axum::Router, lifecycle: Arc<LifecycleService>) -> axum::Router {
        match self.kind {
            DriverKind::Local => crate::local::proxy::in_front(router, lifecycle),
            DriverKind::Fly => router,
        }
    }
}
