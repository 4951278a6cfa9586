//! Assembling the lifecycle for `serve`: the driver the configuration
//! names, the service over the store, and the three background loops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::config::{DriverKind, ServeArgs};
use crate::lifecycle::app_files::StoreAppFiles;
use crate::lifecycle::clock::SystemClock;
use crate::lifecycle::driver::PreviewDriver;
use crate::lifecycle::fly_driver::FlyDriver;
use crate::lifecycle::local::{LocalDriver, LocalDriverConfig};
use crate::lifecycle::reconciler::Reconciler;
use crate::lifecycle::service::{LifecycleConfig, LifecycleService};
use crate::lifecycle::{idle_reaper, reconciler, ttl_sweeper};
use crate::store::Backend;

impl LifecycleConfig {
    pub fn from_args(args: &ServeArgs, server_url: String) -> LifecycleConfig {
        LifecycleConfig {
            idle_timeout: args.idle_timeout,
            delete_after: args.delete_after,
            autostop: args.autostop,
            // Never wait for an orphan longer than a few passes, nor less than one.
            orphan_grace: (args.loop_interval * 3)
                .clamp(Duration::from_secs(1), Duration::from_secs(300)),
            ..LifecycleConfig::new(server_url)
        }
    }
}

/// The service over `store`, driving `driver`.
pub fn build_service(
    args: &ServeArgs,
    store: &Backend,
    driver: Arc<dyn PreviewDriver>,
    server_url: String,
) -> Arc<LifecycleService> {
    let files = StoreAppFiles {
        files: store.files(),
        tokens: store.sync_tokens(),
    };
    LifecycleService::new(
        driver,
        store.previews(),
        Arc::new(files),
        Arc::new(SystemClock),
        LifecycleConfig::from_args(args, server_url),
    )
}

/// The driver `serve` runs previews with.
pub struct Drivers {
    pub driver: Arc<dyn PreviewDriver>,
    /// The same driver as its concrete type when it is the local one: the
    /// edge proxy asks it for each preview's port.
    pub local: Option<Arc<LocalDriver>>,
}

/// The driver `--driver` (or the presence of a Fly token) selects.
/// `proxy_port` is the port this provisioner bound, which the local previews are served on.
pub async fn build_driver(args: &ServeArgs, proxy_port: u16) -> anyhow::Result<Drivers> {
    match args.driver_kind() {
        DriverKind::Fly => {
            let driver = FlyDriver::from_args(args)?;
            Ok(Drivers {
                driver: Arc::new(driver),
                local: None,
            })
        }
        DriverKind::Local => {
            let config = LocalDriverConfig::from_args(args, proxy_port)?;
            let local = Arc::new(LocalDriver::open(config).await?);
            Ok(Drivers {
                driver: local.clone(),
                local: Some(local),
            })
        }
    }
}

/// Spawns the idle reaper, the TTL sweeper and the reconciler; they stop when
/// the service's shutdown token is cancelled.
pub fn spawn_loops(service: &Arc<LifecycleService>, period: Duration) -> JoinSet<()> {
    let shutdown = service.shutdown_token();
    let mut loops = JoinSet::new();
    loops.spawn(idle_reaper::run(
        service.clone(),
        period,
        Arc::new(Notify::new()),
        shutdown.clone(),
    ));
    loops.spawn(ttl_sweeper::run(
        service.clone(),
        period,
        Arc::new(Notify::new()),
        shutdown.clone(),
    ));
    let reconciler = Arc::new(Reconciler::new(service.clone()));
    loops.spawn(reconciler::run(
        reconciler,
        period,
        Arc::new(Notify::new()),
        shutdown,
    ));
    loops
}
