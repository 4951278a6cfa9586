//! The preview gateway: the one thing listening on the port the platform
//! gives the preview (`PORT`: Fly's service port, the local driver's
//! loopback port). The dev server listens on a private loopback port behind
//! it, so an app that binds `localhost:5173` whatever it is told still
//! works, and the preview answers from its first second, before the dev
//! server does.
//!
//! - Once the supervisor has seen the dev server answer an HTTP request, the
//!   gateway forwards everything there (`forward`), WebSocket upgrades
//!   included, with the dev server's own origin in `Host`/`Origin`/`Referer`.
//! - Until then, and while it restarts, a browser gets a loading page with
//!   the live install and start output, other clients a `503` with
//!   `Retry-After` (`pages`).
//! - `/__preview/health` is the gateway's own: `200` whenever the gateway
//!   runs, with the dev server's state in the body (the platform's health
//!   check asks it); the app's output in it only for visitors let in.
//! - A private preview lets in only holders of a link, its cookie or a
//!   bearer token (`access`), and nobody until the app's access is known.
//! - HTML pages get the page script (`render::inject`), which reports to
//!   `/__preview/events` (`render::page_events`).

mod access;
pub mod forward;
pub mod output;
pub mod pages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::render::inject;
use crate::render::page_events::{self, PageInbox};
use crate::status::StatusBoard;
pub use forward::Forwarder;
pub use output::OutputTail;
use pages::Health;

/// How long open connections get to finish once the daemon stops.
const DRAIN: Duration = Duration::from_secs(2);

/// What the gateway reads; the supervisor writes `upstream` and `output`.
#[derive(Clone)]
pub struct GatewayState {
    /// The dev server's address once it answered HTTP; `None` while it is
    /// installing, starting or restarting.
    pub upstream: watch::Receiver<Option<SocketAddr>>,
    pub output: OutputTail,
    pub board: StatusBoard,
    pub forwarder: Forwarder,
    /// Where the page script's events go (`render::page_events`).
    pub page: PageInbox,
    /// The `<script>` element added to HTML pages (`render::inject`).
    pub script: Arc<str>,
    pub app_id: sync_protocol::AppId,
    /// Who may see the preview; `None` until the settings were first read.
    pub access: watch::Receiver<Option<sync_protocol::settings::DaemonAccess>>,
}

pub fn router(state: GatewayState) -> Router {
    Router::new()
        .route(pages::HEALTH_PATH, get(health))
        .route(inject::EVENTS_PATH, post(page_event))
        .fallback(proxy)
        .with_state(state)
}

/// Serves the gateway on `listener` until `stop` turns true; open
/// connections (a WebSocket, a streaming response) then get [`DRAIN`] to
/// finish, not an unbounded time.
pub async fn serve(listener: TcpListener, state: GatewayState, mut stop: watch::Receiver<bool>) {
    let mut stop_server = stop.clone();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        let _ = stop_server.wait_for(|stopping| *stopping).await.map(drop);
    });
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        result = &mut server => {
            tracing::error!(?result, "the preview gateway stopped on its own");
            return;
        }
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    if tokio::time::timeout(DRAIN, &mut server).await.is_err() {
        server.abort();
    }
}

/// Open to all (Fly's health checks carry no credentials); the dev
/// server's state only. Its output and message (the app's own text) go to
/// visitors the preview lets in, as the loading page does.
async fn health(State(state): State<GatewayState>, mut request: Request) -> Response {
    let access = state.access.borrow().clone();
    let let_in =
        access.is_some_and(|access| access::check(&access, &state.app_id, &mut request).is_none());
    let mut health = snapshot(&state);
    if !let_in {
        health.withhold_app_text();
    }
    pages::health(&health)
}

/// Before the settings were first read nobody is known to be let in: a
/// browser gets the loading page without the app's text, anything else the
/// JSON answer.
fn before_settings(state: &GatewayState, wants_html: bool) -> Response {
    let mut health = snapshot(state);
    health.withhold_app_text();
    if wants_html {
        pages::loading(&health)
    } else {
        pages::unavailable(&health)
    }
}

async fn page_event(State(state): State<GatewayState>, mut request: Request) -> Response {
    let Some(access) = state.access.borrow().clone() else {
        return before_settings(&state, false);
    };
    if let Some(answer) = access::check(&access, &state.app_id, &mut request) {
        return answer;
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, page_events::MAX_EVENT_BYTES).await {
        Ok(body) => state.page.receive(&parts.headers, body).await,
        Err(_) => page_events::too_large(),
    }
}

async fn proxy(State(state): State<GatewayState>, mut request: Request) -> Response {
    let wants_html = pages::wants_html(request.method(), request.headers());
    let Some(access) = state.access.borrow().clone() else {
        return before_settings(&state, wants_html);
    };
    if let Some(answer) = access::check(&access, &state.app_id, &mut request) {
        return answer;
    }
    // A visitor let in (the health route is not one, nor a refused
    // stranger): the provisioner counts it as activity.
    state.board.record_visit();
    let method = request.method().clone();
    inject::prepare_request(&method, request.headers_mut());
    let upstream = *state.upstream.borrow();
    if let Some(upstream) = upstream {
        match state.forwarder.forward(request, upstream).await {
            Ok(mut response) => {
                access::restrict_framing(&access, &mut response);
                if inject::wants_script(&method, response.headers()) {
                    return inject::into_scripted(response, &state.script).await;
                }
                return response;
            }
            Err(error) => {
                tracing::debug!(%error, %upstream, "forwarding to the dev server failed");
                state.output.note(
                    sync_protocol::logs::LogSource::Gateway,
                    &format!("forwarding to the dev server at {upstream} failed: {error}"),
                );
            }
        }
    }
    let health = snapshot(&state);
    if wants_html {
        pages::loading(&health)
    } else {
        pages::unavailable(&health)
    }
}

fn snapshot(state: &GatewayState) -> Health {
    let upstream = *state.upstream.borrow();
    let status = state.board.current();
    Health {
        gateway: "ok",
        ready: upstream.is_some(),
        dev_server: status.dev_server,
        upstream: upstream.map(|address| address.to_string()),
        message: status.message,
        output: state.output.last(pages::SHOWN_LINES),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
