//! An emulator of Fly's Machines API for tests and benchmarks.
//!
//! It keeps state the way Fly does (apps, IPs, secrets, machines moving
//! through Fly's states over time, leases), checks every request against the
//! copy of Fly's OpenAPI spec in `tests/fixtures` (an unknown path, an
//! undeclared query parameter or body field, a wrong type: 4xx naming what
//! mismatched), records every call, and injects faults on demand.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use preview_tests::fly_emulator::{Faults, FlyEmulator};
//!
//! let fly = FlyEmulator::start().await;
//! // Point the client under test at `fly.base_url()`, act, then assert on the calls.
//! let url = format!("{}/v1/apps/preview-a", fly.base_url());
//! let answer = reqwest::Client::new().get(&url).bearer_auth("t").send().await.unwrap();
//! assert_eq!(answer.status(), 404);
//! assert_eq!(fly.operation_ids(), ["Apps_show"]);
//! assert!(fly.rejected_calls().is_empty());
//! // Faults: rates of 429/5xx and latency, or one planned failure.
//! fly.set_faults(Faults { rate_5xx: 0.3, ..Faults::default() });
//! fly.fail_nth_call("Machines_start", 1, 503);
//! # }
//! ```

mod apps_api;
mod faults;
mod machine_life;
mod machines_api;
mod pipeline;
mod proxy;
mod realism;
pub mod schema;
pub mod spec;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use faults::FaultState;
pub use faults::Faults;
pub use machine_life::StartRefusal;
pub use proxy::ProxiedRequest;
pub use realism::Realism;
use spec::Spec;
use state::World;
pub use state::{AppRecord, IpRecord, MachineRecord};

#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// How long each transient state (starting, stopping, ...) lasts.
    pub transition: Duration,
    pub faults: Faults,
    /// Seed of the fault generator.
    pub seed: u64,
    /// Fly's behaviour beyond the spec (lags, async deletes, foreign names).
    pub realism: Realism,
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig {
            transition: Duration::from_millis(10),
            faults: Faults::default(),
            seed: 42,
            realism: Realism::default(),
        }
    }
}

/// One request as the emulator saw it.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    pub method: String,
    pub path: String,
    /// `None` when the path matched no operation of the spec.
    pub operation_id: Option<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// The answer's status; 0 while the call is still being answered.
    pub status: u16,
    /// Why the spec check refused the call, if it did.
    pub rejection: Option<String>,
}

/// A running emulator; it stops when dropped.
pub struct FlyEmulator {
    base_url: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

pub(crate) struct Shared {
    spec: Spec,
    transition: Duration,
    world: Mutex<World>,
    calls: Mutex<Vec<RecordedCall>>,
    faults: Mutex<FaultState>,
    realism: Mutex<Realism>,
    proxied: Mutex<Vec<ProxiedRequest>>,
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        let realism = self.realism();
        let mut world = lock(&self.world);
        world.settle(tokio::time::Instant::now(), &realism, self.transition);
        world
    }

    /// A copy of the switches (never held while the world is locked).
    pub(crate) fn realism(&self) -> Realism {
        lock(&self.realism).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FlyEmulator {
    /// Starts on 127.0.0.1 with a free port and default settings.
    pub async fn start() -> FlyEmulator {
        FlyEmulator::start_with(EmulatorConfig::default()).await
    }

    /// Fly as its spec describes it, without lags: for tests that count exact calls.
    pub async fn start_without_lags() -> FlyEmulator {
        let config = EmulatorConfig {
            realism: Realism::none(),
            ..EmulatorConfig::default()
        };
        FlyEmulator::start_with(config).await
    }

    pub async fn start_with(config: EmulatorConfig) -> FlyEmulator {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        FlyEmulator::serve_on(listener, config)
    }

    /// Serves on an already bound listener (the benchmark binary binds its own).
    pub fn serve_on(listener: TcpListener, config: EmulatorConfig) -> FlyEmulator {
        let address: SocketAddr = listener.local_addr().expect("listener has an address");
        let shared = Arc::new(Shared {
            spec: Spec::bundled(),
            transition: config.transition,
            world: Mutex::new(World::default()),
            calls: Mutex::new(Vec::new()),
            faults: Mutex::new(FaultState::new(config.faults, config.seed)),
            realism: Mutex::new(config.realism),
            proxied: Mutex::new(Vec::new()),
        });
        let router = Router::new().fallback(dispatch).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "fly emulator stopped");
            }
        });
        FlyEmulator {
            base_url: format!("http://{address}"),
            shared,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`: what `FLY_API_URL` should be.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.shared.calls).clone()
    }

    /// The operation id of every call so far (`"?"` for unknown paths).
    pub fn operation_ids(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .map(|call| call.operation_id.unwrap_or_else(|| "?".to_owned()))
            .collect()
    }

    /// Calls the spec check refused: a test asserts this is empty.
    pub fn rejected_calls(&self) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|call| call.rejection.is_some())
            .collect()
    }

    pub fn clear_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// Changes Fly's behaviour beyond the spec from now on.
    pub fn set_realism(&self, realism: Realism) {
        *lock(&self.shared.realism) = realism;
    }

    pub fn set_faults(&self, faults: Faults) {
        lock(&self.shared.faults).faults = faults;
    }

    /// The `nth` call (1 = the next) of `operation_id` answers `status` without doing anything.
    pub fn fail_nth_call(&self, operation_id: &str, nth: u64, status: u16) {
        lock(&self.shared.faults).plan(operation_id, nth, status, false);
    }

    /// Like `fail_nth_call`, but the operation takes effect and only its answer is replaced.
    pub fn fail_nth_call_after_processing(&self, operation_id: &str, nth: u64, status: u16) {
        lock(&self.shared.faults).plan(operation_id, nth, status, true);
    }

    /// Names of the apps that exist, dying ones (deleted, not yet gone) included.
    pub fn app_names(&self) -> Vec<String> {
        self.shared.world().apps.keys().cloned().collect()
    }

    /// Names of the apps that exist and are not being deleted.
    pub fn live_app_names(&self) -> Vec<String> {
        let world = self.shared.world();
        let live = world.apps.values().filter(|app| app.deleted_at.is_none());
        live.map(|app| app.name.clone()).collect()
    }

    /// A snapshot of one app with its IPs, secrets and machines.
    pub fn app(&self, name: &str) -> Option<AppRecord> {
        self.shared.world().apps.get(name).cloned()
    }

    /// Every machine of `app` that is not destroyed.
    pub fn live_machines(&self, app: &str) -> Vec<MachineRecord> {
        self.app(app)
            .map(|app| {
                app.machines
                    .into_values()
                    .filter(|m| m.state != "destroyed")
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Puts an app in place as if someone else had created it long ago.
    pub fn insert_app(&self, name: &str, org_slug: &str) {
        self.insert_app_in_network(name, org_slug, None);
    }

    /// Like `insert_app`, with the app's private network (which marks a deployment's apps).
    pub fn insert_app_in_network(&self, name: &str, org_slug: &str, network: Option<&str>) {
        let mut world = self.shared.world();
        let id = world.new_id(16);
        let now = tokio::time::Instant::now();
        let long_ago = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
        let network = network.map(str::to_owned);
        let app = apps_api::new_app(id, name, org_slug, network, long_ago);
        world.apps.insert(name.to_owned(), app);
    }

    /// Deletes an app out of band, at once (the dashboard, `fly apps destroy`).
    pub fn remove_app(&self, name: &str) -> bool {
        self.shared.world().apps.remove(name).is_some()
    }

    /// Forces a machine's state, e.g. to leave it wedged in `starting`.
    pub fn set_machine_state(&self, app: &str, machine_id: &str, state: &'static str) -> bool {
        let mut world = self.shared.world();
        let Some(machine) = world
            .app_mut(app)
            .and_then(|app| app.machines.get_mut(machine_id))
        else {
            return false;
        };
        machine.pending.clear();
        machine.state = state;
        true
    }

    /// The next `count` starts (of any machine) are refused as `how`.
    pub fn refuse_next_starts(&self, count: usize, how: StartRefusal) {
        let mut world = self.shared.world();
        world.start_refusals.extend(std::iter::repeat_n(how, count));
    }

    /// Says a machine's host is `ok`, `unknown` or `unreachable`.
    pub fn set_host_status(&self, app: &str, machine_id: &str, status: &'static str) -> bool {
        let mut world = self.shared.world();
        let machine = world
            .app_mut(app)
            .and_then(|app| app.machines.get_mut(machine_id));
        machine
            .map(|machine| machine.host_status = status)
            .is_some()
    }

    /// Every request that came through the emulated proxy (`Host: <app>.fly.dev`).
    pub fn proxied_requests(&self) -> Vec<ProxiedRequest> {
        lock(&self.shared.proxied).clone()
    }

    /// A request through Fly's proxy to `app` (`https://<app>.fly.dev`): it
    /// counts as traffic for the proxy's autostop and wakes a sleeping
    /// machine whose service has `autostart`. Whether a machine serves it.
    pub fn proxy_request(&self, app: &str) -> bool {
        let step = self.shared.transition;
        let mut world = self.shared.world();
        let now = tokio::time::Instant::now();
        let Some(app) = world.app_mut(app) else {
            return false;
        };
        let mut served = false;
        for machine in app.machines.values_mut() {
            served |= machine.proxied_request(now, step);
        }
        served
    }
}

/// Requests for `<app>.fly.dev` go to the proxy; the rest is the Machines API.
async fn dispatch(
    state: axum::extract::State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
) -> axum::response::Response {
    if proxy::proxied_app(&headers).is_some() {
        proxy::handle(state, uri, headers).await
    } else {
        pipeline::handle(state, method, uri, headers, body).await
    }
}

impl Drop for FlyEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub(crate) use pipeline::{Answer, Request, error};
