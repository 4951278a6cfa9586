//! HTTP surface: the router, authentication and handlers. Handlers extract
//! input, call one domain function and map its result; they never talk to a
//! database driver or to Fly directly.

pub mod auth;
mod connections;
pub mod error;
mod fallback;
pub mod render;
pub mod serve;

// The modules with `#[utoipa::path]` handlers: utoipa's expansion spells
// the handlers' own types with their full paths, which the workspace's
// `unused_qualifications` lint would flag in code nobody wrote by hand.
#[allow(unused_qualifications)]
mod controls;
#[allow(unused_qualifications)]
mod files;
#[allow(unused_qualifications)]
mod health;
#[allow(unused_qualifications)]
mod import;
#[allow(unused_qualifications)]
mod logs;
#[allow(unused_qualifications)]
mod manifest;
#[allow(unused_qualifications)]
pub mod openapi;
#[allow(unused_qualifications)]
mod playground;
#[allow(unused_qualifications)]
mod preview_events;
#[allow(unused_qualifications)]
mod previews;
#[allow(unused_qualifications)]
mod settings;
#[allow(unused_qualifications)]
mod status;
#[allow(unused_qualifications)]
mod sync;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

pub use auth::OperatorKey;
pub use error::ApiError;
pub use health::Metrics;

use crate::config::ServeArgs;
use crate::files::FilesService;
use crate::lifecycle::LifecycleService;
use crate::store::SyncTokenStore;

/// What every handler can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServeArgs>,
    pub files: FilesService,
    pub sync_tokens: Arc<dyn SyncTokenStore>,
    pub operator_key: OperatorKey,
    pub metrics: Arc<Metrics>,
    pub lifecycle: Arc<LifecycleService>,
    /// The previews' logs (`GET`/`POST .../logs`).
    pub logs: crate::logs::LogService,
    /// Restart and rebuild, for the previews' daemons to act on.
    pub controls: crate::logs::controls::ControlService,
    /// The store's identity and readiness, for `/readyz`.
    pub store_health: Arc<dyn crate::store::StoreHealth>,
    /// Wakes writes waiting for their render (`render`).
    pub renders: render::RenderWatch,
    /// Per-app settings and private preview links.
    pub settings: crate::settings::SettingsService,
    /// Each app's last git import, step by step (`import`).
    pub imports: Arc<dyn crate::store::ImportStore>,
}

/// Every route with its description: each module registers its handlers
/// with `routes!`, which adds them to the router and to the OpenAPI
/// document together (see `openapi`).
fn documented_routes() -> OpenApiRouter<AppState> {
    openapi::base()
        .merge(files::routes())
        .merge(sync::routes())
        .merge(health::routes())
        .merge(previews::routes())
        .merge(status::routes())
        .merge(import::routes())
        .merge(logs::routes())
        .merge(controls::routes())
        .merge(settings::routes())
        .merge(playground::routes())
        .merge(openapi::routes())
}

/// The whole API. Building it apart from serving lets tests drive it with
/// `oneshot` and lets `Application` add nothing but the listener.
pub fn router(state: AppState) -> Router {
    let body_limit = body_limit(state.files.limits().max_file_bytes);
    let (routes, _document) = documented_routes().split_for_parts();
    routes
        .fallback(fallback::route_not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(fallback::json_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            health::count_request,
        ))
        // `ApiError` logs a 5xx with its cause; the layer's own failure log would repeat it without.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(()),
        )
        .with_state(state)
}

/// Lets a file of the largest allowed size through, base64-encoded in a
/// batch (4/3 of the size) with room for the JSON around it. A bigger body is
/// refused with 413 by the extractor, which the handlers answer as JSON.
fn body_limit(max_file_bytes: u64) -> usize {
    let encoded = max_file_bytes.div_ceil(3) * 4;
    usize::try_from(encoded + 1024 * 1024).unwrap_or(usize::MAX)
}

/// One span per request, named by its route rather than its raw path, so
/// logs group by endpoint. Headers are left out: they carry secrets.
fn request_span(request: &Request) -> tracing::Span {
    let matched_path = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    tracing::info_span!(
        "http_request",
        method = %request.method(),
        matched_path,
        path = %request.uri().path(),
    )
}
