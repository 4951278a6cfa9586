//! An emulator of Fly's Machines API for tests and benchmarks.
//!
//! It keeps state the way Fly does (apps, IPs, secrets, machines moving
//! through Fly's states over time, leases), checks every request against the
//! copy of Fly's OpenAPI spec in `tests/fixtures` (an unknown path, an
//! undeclared query parameter or body field, a wrong type: 4xx naming what
//! mismatched), records every call, and injects faults on demand.
//!
//! ```ignore
//! let fly = FlyEmulator::start().await;
//! // point the client at fly.base_url(), then:
//! assert_eq!(fly.operation_ids(), ["Apps_create", ...]);
//! fly.set_faults(Faults { rate_5xx: 0.3, ..Faults::default() });
//! fly.fail_nth_call("Machines_start", 1, 503);
//! ```

mod apps_api;
mod faults;
mod machines_api;
pub mod schema;
pub mod spec;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use faults::FaultState;
pub use faults::Faults;
use spec::{Rejection, Spec};
use state::World;
pub use state::{AppRecord, IpRecord, MachineRecord};

#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// How long each transient state (starting, stopping, ...) lasts.
    pub transition: Duration,
    pub faults: Faults,
    /// Seed of the fault generator.
    pub seed: u64,
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig {
            transition: Duration::from_millis(10),
            faults: Faults::default(),
            seed: 42,
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
}

impl Shared {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        let mut world = lock(&self.world);
        world.settle(tokio::time::Instant::now());
        world
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
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
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

    pub fn app_names(&self) -> Vec<String> {
        self.shared.world().apps.keys().cloned().collect()
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

    /// Puts an app in place as if someone else had created it.
    pub fn insert_app(&self, name: &str, org_slug: &str) {
        let mut world = self.shared.world();
        let id = world.new_id(16);
        world
            .apps
            .insert(name.to_owned(), apps_api::new_app(id, name, org_slug, None));
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
}

impl Drop for FlyEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An operation's answer.
pub(crate) enum Answer {
    Json(u16, Value),
    Empty(u16),
}

pub(crate) fn error(status: u16, message: impl Into<String>) -> Answer {
    Answer::Json(status, json!({"error": message.into()}))
}

/// What an operation handler is given.
pub(crate) struct Request {
    pub operation_id: String,
    pub params: std::collections::BTreeMap<String, String>,
    pub query: Vec<(String, String)>,
    pub lease_nonce: Option<String>,
    pub body: Option<Value>,
}

impl Request {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let index = {
        let mut calls = lock(&shared.calls);
        calls.push(RecordedCall {
            method: method.to_string(),
            path: uri.path().to_owned(),
            operation_id: None,
            query: query.clone(),
            body: serde_json::from_slice(&body).ok(),
            status: 0,
            rejection: None,
        });
        calls.len() - 1
    };
    let (answer, rejection) = answer(&shared, &method, &uri, &headers, &body, query, index).await;
    let (status, body) = match answer {
        Answer::Json(status, value) => (status, Some(value)),
        Answer::Empty(status) => (status, None),
    };
    {
        let mut calls = lock(&shared.calls);
        if let Some(call) = calls.get_mut(index) {
            call.status = status;
            call.rejection = rejection;
        }
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(value) => (status, axum::Json(value)).into_response(),
        None => status.into_response(),
    };
    let request_id = format!("01emulated{index:016}");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("fly-request-id", value);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let seconds = lock(&shared.faults).faults.retry_after_seconds;
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

/// Authenticates, checks the request against the spec, applies faults and runs the operation.
async fn answer(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    query: Vec<(String, String)>,
    index: usize,
) -> (Answer, Option<String>) {
    let authorized = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer ") || value.starts_with("FlyV1 "));
    if !authorized {
        return (error(401, "Authenticate: token validation error"), None);
    }
    let spec = &shared.spec;
    let (operation, params) = match spec.match_request(method.as_str(), uri.path()) {
        Ok(found) => found,
        Err(Rejection::UnknownPath) => {
            return (error(404, "unknown path"), Some("unknown path".to_owned()));
        }
        Err(Rejection::MethodNotAllowed) => {
            return (
                error(405, "method not allowed"),
                Some("method not allowed".to_owned()),
            );
        }
        Err(Rejection::Invalid(message)) => return (error(400, message.clone()), Some(message)),
    };
    if let Some(call) = lock(&shared.calls).get_mut(index) {
        call.operation_id = Some(operation.operation_id.clone());
    }
    let checked = spec
        .check_query(operation, &query)
        .and_then(|()| spec.check_headers(operation, |name| headers.contains_key(name)))
        .and_then(|()| spec.check_body(operation, body));
    let body = match checked {
        Ok(body) => body,
        Err(Rejection::Invalid(message)) => return (error(400, message.clone()), Some(message)),
        Err(other) => return (error(400, format!("{other:?}")), Some(format!("{other:?}"))),
    };
    let decision = lock(&shared.faults).decide(&operation.operation_id);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(status) = decision.fail_before {
        return (injected(status), None);
    }
    let request = Request {
        operation_id: operation.operation_id.clone(),
        params,
        query,
        lease_nonce: headers
            .get("fly-machine-lease-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    };
    let answer = match apps_api::handle(shared, &request) {
        Some(answer) => answer,
        None => machines_api::handle(shared, &request).await,
    };
    match decision.fail_after {
        Some(status) => (injected(status), None),
        None => (answer, None),
    }
}

fn injected(status: u16) -> Answer {
    if status == 429 {
        error(429, "rate limit exceeded")
    } else {
        error(status, "injected failure")
    }
}
