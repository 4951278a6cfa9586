//! `/healthz` (the process answers), `/readyz` (it can serve: the store
//! answers with every migration applied, and shutdown has not begun, so a
//! load balancer drains an instance before it stops), `/metrics`
//! (Prometheus text format), and the middleware that counts requests by
//! route and status.
//!
//! A handful of counters does not warrant a metrics crate: they are kept in
//! a map and written out by hand.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState};

/// Request counts by (method, route, status).
#[derive(Debug, Default)]
pub struct Metrics {
    /// A std mutex: held for one map update, never across an await.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    fn count(&self, method: &str, route: &str, status: u16) {
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
    }
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// `/healthz`: the process answers.
#[derive(ToSchema)]
#[allow(dead_code)] // A schema only: written with `json!`.
struct Health {
    #[schema(pattern = "^ok$")]
    status: String,
}

/// `/readyz`: the store answers and shutdown has not begun.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Readiness {
    #[schema(pattern = "^ready$")]
    status: String,
    /// The store's identity (as in `X-Store-Id`).
    store_id: String,
}

pub(super) async fn count_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    // Unmatched paths share one label, so random URLs cannot grow the map.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    state
        .metrics
        .count(method, &route, response.status().as_u16());
    response
}

/// The method as a label: one of the standard methods, else `OTHER`, so a
/// client making up methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or("OTHER", Method::as_str)
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((status = 200, description = "Alive", body = Health)),
)]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 200 with the store's identity, or 503 (`unavailable`, `Retry-After`)
/// with the cause in the log only: this route needs no credentials.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses((status = 200, description = "Ready", body = Readiness)),
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.lifecycle.shutdown_token().is_cancelled() {
        return Err(ApiError::unavailable(anyhow::anyhow!("shutting down"), 1));
    }
    let ready = async {
        state.store_health.readiness().await?;
        state.store_health.identity().await
    };
    match tokio::time::timeout(READY_TIMEOUT, ready).await {
        Ok(Ok(store_id)) => Ok(Json(
            serde_json::json!({ "status": "ready", "store_id": store_id }),
        )),
        Ok(Err(error)) => Err(ApiError::unavailable(error, 1)),
        Err(_) => Err(ApiError::unavailable(
            anyhow::anyhow!("the store did not answer within {READY_TIMEOUT:?}"),
            1,
        )),
    }
}

/// The blob sweep's books, as the store keeps them (every instance on one
/// database shows the same figures).
fn write_garbage_metrics(text: &mut String, books: crate::store::BlobGarbage) {
    let rows = [
        (
            "provisioner_blob_garbage_pending_bytes",
            "gauge",
            "Bytes of file content made unreferenced since the last blob sweep began (an upper bound).",
            books.pending.bytes,
        ),
        (
            "provisioner_blob_garbage_pending_blobs",
            "gauge",
            "File contents made unreferenced since the last blob sweep began (an upper bound).",
            books.pending.blobs,
        ),
        (
            "provisioner_blobs_swept_total",
            "counter",
            "Unreferenced blobs removed by the blob sweep.",
            books.swept.blobs,
        ),
        (
            "provisioner_blob_bytes_swept_total",
            "counter",
            "Bytes of unreferenced blobs removed by the blob sweep.",
            books.swept.bytes,
        ),
    ];
    for (name, kind, help, value) in rows {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

/// A readiness probe that waits longer than this says "not ready".
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Request, write, sweep, long-poll and task figures.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String)),
)]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = String::new();
    text.push_str("# HELP provisioner_http_requests_total HTTP requests by route and status.\n");
    text.push_str("# TYPE provisioner_http_requests_total counter\n");
    {
        let requests = state
            .metrics
            .requests
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for ((method, route, status), count) in requests.iter() {
            let _ = writeln!(
                text,
                "provisioner_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
    }
    let _ = writeln!(
        text,
        "# HELP provisioner_file_writes_total Writes that made a new files revision.\n\
         # TYPE provisioner_file_writes_total counter\n\
         provisioner_file_writes_total {}",
        state.files.writes()
    );
    match state.files.blob_garbage().await {
        Ok(books) => write_garbage_metrics(&mut text, books),
        Err(error) => tracing::warn!(
            error.message = %error,
            "the blob sweep's books could not be read for /metrics"
        ),
    }
    let _ = writeln!(
        text,
        "# HELP provisioner_long_poll_waiters Long-polls of the files manifest waiting now.\n\
         # TYPE provisioner_long_poll_waiters gauge\n\
         provisioner_long_poll_waiters {}",
        state.files.notifier().waiters()
    );
    super::status::write_task_metrics(&mut text, &state.lifecycle.tasks().snapshot());
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_up_method_is_labelled_other_and_standard_ones_by_name() {
        let made_up = Method::from_bytes(&b"X".repeat(4096)).unwrap();
        let cases = [
            (Method::GET, "GET"),
            (Method::DELETE, "DELETE"),
            (Method::from_bytes(b"PROPFIND").unwrap(), "OTHER"),
            (made_up, "OTHER"),
        ];
        for (method, label) in cases {
            assert_eq!(method_label(&method), label);
        }
    }
}
