//! The edge proxy: how a browser reaches a local preview.
//!
//! A request whose `Host` is `preview-<appId>.localhost[:port]` never reaches
//! the API router; it is forwarded to that preview's dev server on loopback,
//! WebSocket upgrades included (Vite's HMR channel). The proxy rewrites `Host`
//! to `localhost:<port>` upstream, so a dev server that checks its host (Vite
//! does) accepts the request without the app's config naming ours.
//!
//! A preview that is not running is woken through the lifecycle service (never
//! the driver directly), behind [`ProxyBackend`]. While it boots, a browser
//! asking for HTML gets a small loading page that waits and reloads by itself;
//! any other request is held until the dev server answers, within a bound.
//! Every proxied request counts as activity, so a preview in use stays awake.
//! A private preview lets in only holders of a link, its cookie or a bearer
//! token (`access`), checked before anything is woken.

mod access;
mod forward;
mod local_backend;
mod pages;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use sync_protocol::AppId;
use tokio::time::Instant;

use forward::{ForwardError, Forwarder};
pub use local_backend::LocalPreviews;

/// Where the proxy should send a preview's traffic right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// No preview exists for this app: a 404 page.
    Unknown,
    /// A preview exists but is not running (stopped, suspended, still provisioning).
    Asleep,
    /// Its process runs; the dev server listens (or will soon) on this loopback port.
    Running { port: u16 },
}

/// What the proxy needs from the rest of the provisioner. The production
/// implementation asks the lifecycle service (existence, wake, activity) and
/// the local driver (the port); tests use a stub.
#[async_trait]
pub trait ProxyBackend: Send + Sync + 'static {
    async fn target(&self, app_id: &AppId) -> anyhow::Result<Target>;

    /// Starts the preview through the lifecycle service. May take as long as a boot.
    async fn wake(&self, app_id: &AppId) -> anyhow::Result<()>;

    /// Records activity so the idle reaper leaves the preview running.
    async fn touch(&self, app_id: &AppId);

    /// Who may see the preview, and the app's key when it is private.
    async fn access(&self, app_id: &AppId) -> anyhow::Result<PreviewAccess>;
}

/// Who may see a preview, and its app's key when it is private.
pub type PreviewAccess = (
    sync_protocol::access::Visibility,
    Option<sync_protocol::access::AccessKey>,
);

/// Bounds on how long the proxy waits for a preview.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// How long a non-HTML request is held while the preview wakes or boots.
    pub wake_wait: Duration,
    /// Minimum time between two activity records for one preview.
    pub touch_interval: Duration,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig {
            wake_wait: Duration::from_secs(60),
            touch_interval: Duration::from_secs(5),
        }
    }
}

/// The proxy's shared state; cheap to clone.
#[derive(Clone)]
pub struct EdgeProxy {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn ProxyBackend>,
    config: ProxyConfig,
    forwarder: Forwarder,
    /// Apps whose wake is in flight, so a burst of requests starts one wake.
    waking: Mutex<HashSet<AppId>>,
    /// Last activity record per app, to throttle touches to the store.
    touched: Mutex<std::collections::HashMap<AppId, Instant>>,
}

impl EdgeProxy {
    pub fn new(backend: Arc<dyn ProxyBackend>, config: ProxyConfig) -> EdgeProxy {
        EdgeProxy {
            inner: Arc::new(Inner {
                backend,
                config,
                forwarder: Forwarder::new(),
                waking: Mutex::default(),
                touched: Mutex::default(),
            }),
        }
    }

    /// Handles one request addressed to a preview host.
    // A debug span: this runs for every asset a dev server serves, and an
    // info span per request costs measurable proxy throughput.
    #[tracing::instrument(level = "debug", skip_all, fields(app_id = %app_id, method = %request.method(), path = %request.uri().path()))]
    pub async fn handle(&self, app_id: AppId, request: Request) -> Response {
        let wants_html = wants_html(request.method(), request.headers());
        match self.inner.backend.access(&app_id).await {
            Ok((visibility, key)) => {
                if let Some(answer) = access::check(visibility, key.as_ref(), &app_id, &request) {
                    return answer;
                }
            }
            Err(error) => {
                tracing::error!(%app_id, error.cause_chain = ?error, "preview access lookup failed");
                return pages::unavailable(&app_id);
            }
        }
        let target = match self.inner.backend.target(&app_id).await {
            Ok(target) => target,
            Err(error) => {
                tracing::error!(%app_id, error.cause_chain = ?error, "preview lookup failed");
                return pages::unavailable(&app_id);
            }
        };
        let port = match target {
            Target::Unknown => return pages::not_found(&app_id),
            Target::Running { port } => port,
            // An open tab whose dev server went to sleep polls it (Vite's
            // client pings every second). That is not a visit: waking on it
            // would keep every forgotten tab's preview running forever.
            Target::Asleep if is_reconnect_ping(request.headers()) => {
                return pages::unavailable(&app_id);
            }
            Target::Asleep if wants_html => {
                self.start_wake(&app_id);
                return pages::loading(&app_id);
            }
            Target::Asleep => match self.wait_until_answering(&app_id).await {
                Some(port) => port,
                None => return pages::unavailable(&app_id),
            },
        };
        self.touch(&app_id).await;
        let host = request.headers().get(header::HOST).cloned();
        // The preview's gateway answers `503` itself while its dev server
        // starts; a request that is not a page load is held and sent again
        // once the dev server answers, as for a preview still booting.
        let retry = (!wants_html)
            .then(|| forward::replayable_copy(&request))
            .flatten();
        match self
            .inner
            .forwarder
            .forward(request, port, host.clone())
            .await
        {
            Ok(response) if retry.is_some() && forward::gateway_not_ready(&response) => {
                let retry = retry.expect("checked above");
                match self.wait_until_answering(&app_id).await {
                    Some(port) => self
                        .inner
                        .forwarder
                        .forward(retry, port, host)
                        .await
                        .unwrap_or_else(|_| pages::bad_gateway(&app_id)),
                    None => response,
                }
            }
            Ok(response) => response,
            // The process runs but its dev server does not listen yet (or
            // died): a browser sees the loading page, other requests wait
            // and are sent again when they carry no body.
            Err(ForwardError::Connect(_)) if wants_html => pages::loading(&app_id),
            Err(ForwardError::Connect(Some(request))) => {
                match self.wait_until_answering(&app_id).await {
                    Some(port) => self
                        .inner
                        .forwarder
                        .forward(*request, port, host)
                        .await
                        .unwrap_or_else(|_| pages::bad_gateway(&app_id)),
                    None => pages::unavailable(&app_id),
                }
            }
            Err(ForwardError::Connect(None)) => pages::unavailable(&app_id),
            Err(ForwardError::Other(error)) => {
                tracing::warn!(%app_id, error.cause_chain = ?error, "proxying to the preview failed");
                pages::bad_gateway(&app_id)
            }
        }
    }

    /// Wakes the preview if needed and waits, within `wake_wait`, until its
    /// dev server answers (the gateway's health route says so). Returns its port.
    async fn wait_until_answering(&self, app_id: &AppId) -> Option<u16> {
        let deadline = Instant::now() + self.inner.config.wake_wait;
        while Instant::now() < deadline {
            match self.inner.backend.target(app_id).await {
                Ok(Target::Running { port }) => {
                    // A request waiting for the preview is a visit: without
                    // this, a dev server slower to start than the idle
                    // timeout is put to sleep while its visitor waits.
                    self.touch(app_id).await;
                    if self.inner.forwarder.ready(port).await {
                        return Some(port);
                    }
                }
                Ok(Target::Asleep) => self.start_wake(app_id),
                Ok(Target::Unknown) => return None,
                Err(error) => {
                    tracing::warn!(%app_id, error.cause_chain = ?error, "preview lookup failed");
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    /// Starts one wake for the app in the background unless one is in flight.
    fn start_wake(&self, app_id: &AppId) {
        let first = self
            .inner
            .waking
            .lock()
            .expect("waking set poisoned")
            .insert(app_id.clone());
        if !first {
            return;
        }
        let proxy = self.clone();
        let app_id = app_id.clone();
        tokio::spawn(async move {
            tracing::info!(%app_id, "waking preview on visit");
            if let Err(error) = proxy.inner.backend.wake(&app_id).await {
                tracing::warn!(%app_id, error.cause_chain = ?error, "waking preview failed");
            }
            proxy
                .inner
                .waking
                .lock()
                .expect("waking set poisoned")
                .remove(&app_id);
        });
    }

    async fn touch(&self, app_id: &AppId) {
        let now = Instant::now();
        {
            let mut touched = self.inner.touched.lock().expect("touch map poisoned");
            if let Some(last) = touched.get(app_id)
                && now.duration_since(*last) < self.inner.config.touch_interval
            {
                return;
            }
            touched.insert(app_id.clone(), now);
        }
        self.inner.backend.touch(app_id).await;
    }
}

/// Puts the edge proxy in front of the API: preview hosts go to the
/// previews the lifecycle's driver serves on loopback.
pub fn in_front(
    router: axum::Router,
    lifecycle: Arc<crate::lifecycle::LifecycleService>,
    settings: crate::settings::SettingsService,
) -> axum::Router {
    let backend = Arc::new(LocalPreviews::new(lifecycle, settings));
    let proxy = EdgeProxy::new(backend, ProxyConfig::default());
    // Outermost, so preview traffic skips the API's body limit, metrics and auth.
    router.layer(axum::middleware::from_fn_with_state(proxy, route_by_host))
}

/// Middleware for the API router: requests for a preview host go to the
/// proxy, everything else continues to the API.
pub async fn route_by_host(
    State(proxy): State<EdgeProxy>,
    request: Request,
    next: Next,
) -> Response {
    match preview_host_app_id(&request) {
        Some(app_id) => proxy.handle(app_id, request).await,
        None => next.run(request).await,
    }
}

/// The app id named by a `preview-<appId>.localhost[.][:port]` host, if any.
pub fn preview_app_id(host: &str) -> Option<AppId> {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    // A fully qualified name ends in a dot (`preview-a.localhost.`): the same host.
    let name = name.strip_suffix('.').unwrap_or(name);
    let label = name.to_ascii_lowercase();
    let label = label.strip_suffix(".localhost")?.strip_prefix("preview-")?;
    AppId::parse(label).ok()
}

fn preview_host_app_id(request: &Request<Body>) -> Option<AppId> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().host())?;
    preview_app_id(host)
}

/// Vite's client, having lost its HMR socket, asks whether the server is back.
fn is_reconnect_ping(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/x-vite-ping"))
}

/// A browser navigation (rather than a script's fetch or an asset load).
fn wants_html(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}
