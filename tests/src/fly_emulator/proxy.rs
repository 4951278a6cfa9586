//! Fly's proxy as a preview's public URL reaches it: a request whose `Host`
//! is `<app>.fly.dev` (the emulator serves both the Machines API and this
//! on one port) is routed to the app's machine. It counts as traffic for
//! the proxy's autostop and wakes a sleeping machine with `autostart`; it is
//! answered 503, as Fly's edge does while nothing healthy can take it, until
//! the app's name resolves and the machine has been started for
//! `Realism::proxy_warmup`, and once its checks pass (its image does not
//! crash). Then it gets the preview gateway's answer (`200 ok`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::{Shared, lock};

/// The app a request is for, when it came through Fly's proxy.
pub(crate) fn proxied_app(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = host.split(':').next().unwrap_or(host);
    host.strip_suffix(".fly.dev").map(str::to_owned)
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(app_name) = proxied_app(&headers) else {
        return StatusCode::MISDIRECTED_REQUEST.into_response();
    };
    let status = route(&shared, &app_name);
    lock(&shared.proxied).push(ProxiedRequest {
        app: app_name.clone(),
        path: uri.path().to_owned(),
        status: status.as_u16(),
    });
    match status {
        StatusCode::OK => (status, "ok").into_response(),
        _ => (
            status,
            format!("{app_name}.fly.dev: no healthy machine answered"),
        )
            .into_response(),
    }
}

fn route(shared: &Shared, app_name: &str) -> StatusCode {
    let warmup = shared.realism().proxy_warmup;
    let step = shared.transition;
    let mut world = shared.world();
    let now = Instant::now();
    let Some(app) = world
        .app_mut(app_name)
        .filter(|app| app.deleted_at.is_none())
    else {
        // Fly's DNS has no such name.
        return StatusCode::BAD_GATEWAY;
    };
    let resolves = now >= app.created_at + warmup;
    let mut ready = false;
    for machine in app.machines.values_mut() {
        machine.proxied_request(now, step);
        let warm = machine.started_at.is_some_and(|at| now >= at + warmup);
        ready |= warm && machine.crash_exit_code.is_none();
    }
    if resolves && ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// A request Fly's proxy saw, for tests: which app, which path, what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedRequest {
    pub app: String,
    pub path: String,
    pub status: u16,
}
