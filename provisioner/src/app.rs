//! `Application`: opens the store, builds the state and the router, binds the
//! listener. Building and running are separate steps so a caller (a test,
//! or `serve`) learns the bound address before the first request.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::ServeArgs;
use crate::files::{FilesService, Limits};
use crate::http::{AppState, Metrics, OperatorKey};
use crate::lifecycle::LifecycleService;
use crate::lifecycle::app_files::StoreAppFiles;
use crate::lifecycle::clock::SystemClock;
use crate::platform::Platform;
use crate::store::Backend;

/// The file in the data dir that keeps a generated operator key.
const API_KEY_FILE: &str = "api-key";
/// The file in the data dir that keeps a generated preview-link secret.
const PREVIEW_SECRET_FILE: &str = "preview-secret";

pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    store: Backend,
    /// Where previews run, and what it serves in front of the API.
    platform: Platform,
    /// Set when no key was configured and none was kept yet: `serve` prints it once.
    generated_api_key: Option<String>,
}

impl Application {
    pub async fn build(args: ServeArgs) -> anyhow::Result<Application> {
        let data_dir = &args.store.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("failed to create the data dir `{}`", data_dir.display()))?;
        let store = Backend::open(&args).await?;
        let store_id = store
            .health()
            .identity()
            .await
            .context("failed to read the store's identity")?;
        let (api_key, generated_api_key) =
            resolve_secret(args.http.api_key.as_deref(), data_dir, API_KEY_FILE, "pk_")?;
        let (preview_secret, _) = resolve_secret(
            args.access.preview_secret.as_deref(),
            data_dir,
            PREVIEW_SECRET_FILE,
            "ps_",
        )?;
        if args.store.database_url.is_some() && args.access.preview_secret.is_none() {
            tracing::warn!(
                "PROVISIONER_PREVIEW_SECRET is unset: private preview links made by this instance \
                 work only here; give every instance sharing the database the same secret"
            );
        }
        let settings = crate::settings::SettingsService::new(
            store.settings(),
            crate::settings::AccessSecret::new(&preview_secret),
            args.access.preview_visibility,
            args.access.preview_frame_ancestors.clone(),
        );
        let listen = args.http.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to listen on {listen}"))?;
        let local_addr = listener
            .local_addr()
            .context("failed to read the bound address")?;

        // Daemons reach this provisioner at its public URL, else where it listens.
        let server_url = args
            .http
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local_addr}"));
        let platform = Platform::open(&args, local_addr.port()).await?;
        let files = StoreAppFiles {
            files: store.files(),
            tokens: store.sync_tokens(),
            imports: store.imports(),
        };
        let lifecycle = LifecycleService::coordinated(
            platform.driver.clone(),
            store.previews(),
            Arc::new(files),
            Arc::new(SystemClock),
            args.lifecycle.config(server_url),
            store.coordination(),
        );
        let state = AppState {
            files: FilesService::new(store.files(), Limits::from_args(&args.limits), &store_id),
            sync_tokens: store.sync_tokens(),
            operator_key: OperatorKey::new(&api_key),
            metrics: Arc::new(Metrics::default()),
            lifecycle,
            logs: crate::logs::LogService::new(store.logs()),
            controls: crate::logs::controls::ControlService::new(store.controls()),
            store_health: store.health(),
            renders: Default::default(),
            settings,
            imports: store.imports(),
            config: Arc::new(args),
        };
        Ok(Application {
            listener,
            local_addr,
            state,
            store,
            generated_api_key,
            platform,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn store(&self) -> &Backend {
        &self.store
    }

    /// The operator key when this start generated it; `None` when configured or kept from before.
    pub fn generated_api_key(&self) -> Option<&str> {
        self.generated_api_key.as_deref()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    /// Long-polls are ended at once so shutdown does not wait a minute for them.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let notifier = self.state.files.notifier().clone();
        // With a shared database, other instances' writes wake long-polls here too.
        self.store.listen(&notifier);
        // Ends the loops and the event streams, which would hold the server open.
        let shutdown_lifecycle = self.state.lifecycle.shutdown_token();
        let router = crate::http::router(self.state.clone());
        let router = self.platform.in_front(
            router,
            self.state.lifecycle.clone(),
            self.state.settings.clone(),
        );
        let lifecycle = self.state.lifecycle.clone();
        let period = self.state.config.lifecycle.loop_interval;
        let mut loops = crate::lifecycle::tasks::spawn_all(&lifecycle, period);
        let connections = self.state.config.http.connections.clone();
        crate::http::serve::serve(self.listener, router, &connections, async move {
            shutdown.await;
            tracing::info!("shutting down");
            notifier.shutdown();
            shutdown_lifecycle.cancel();
        })
        .await;
        lifecycle.shutdown().await;
        while loops.join_next().await.is_some() {}
        self.store.close().await;
        Ok(())
    }
}

/// The configured secret; else the one kept in the data dir under `file`;
/// else a new one, kept there (readable by the owner only) and returned as
/// generated.
fn resolve_secret(
    configured: Option<&str>,
    data_dir: &Path,
    file: &str,
    prefix: &str,
) -> anyhow::Result<(String, Option<String>)> {
    if let Some(key) = configured.map(str::trim).filter(|key| !key.is_empty()) {
        return Ok((key.to_owned(), None));
    }
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(kept) if !kept.trim().is_empty() => return Ok((kept.trim().to_owned(), None)),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("failed to read `{}`", path.display()));
        }
    }
    let key = format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>()));
    write_private(&path, &key).with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok((key.clone(), Some(key)))
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
