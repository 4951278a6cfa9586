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
//!   check asks it).
//! - A private preview lets in only holders of a link, its cookie or a
//!   bearer token (`access`), and nobody until the app's access is known.

mod access;
pub mod forward;
pub mod output;
pub mod pages;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

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
    pub app_id: sync_protocol::AppId,
    /// Who may see the preview; `None` until the settings were first read.
    pub access: watch::Receiver<Option<sync_protocol::settings::DaemonAccess>>,
}

pub fn router(state: GatewayState) -> Router {
    Router::new()
        .route(pages::HEALTH_PATH, get(health))
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

async fn health(State(state): State<GatewayState>) -> Response {
    pages::health(&snapshot(&state))
}

async fn proxy(State(state): State<GatewayState>, mut request: Request) -> Response {
    let wants_html = pages::wants_html(request.method(), request.headers());
    let Some(access) = state.access.borrow().clone() else {
        return pages::unavailable(&snapshot(&state));
    };
    if let Some(answer) = access::check(&access, &state.app_id, &mut request) {
        return answer;
    }
    let upstream = *state.upstream.borrow();
    if let Some(upstream) = upstream {
        match state.forwarder.forward(request, upstream).await {
            Ok(mut response) => {
                access::restrict_framing(&access, &mut response);
                return response;
            }
            Err(error) => {
                tracing::debug!(%error, %upstream, "forwarding to the dev server failed");
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
