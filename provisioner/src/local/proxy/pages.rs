//! The proxy's own small pages: loading (a preview is waking), not found,
//! unavailable. They are deliberately self-contained: no asset requests that
//! would themselves hit a sleeping preview.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use sync_protocol::AppId;

/// Shown to a browser while the preview wakes. Its script asks for the same
/// URL as a plain fetch, which the proxy holds until the dev server answers,
/// then reloads; on failure it retries after a second.
pub(super) fn loading(app_id: &AppId) -> Response<Body> {
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Starting preview-{app_id}</title>
<meta name="preview-proxy" content="loading">
<style>body{{font-family:system-ui,sans-serif;display:grid;place-items:center;min-height:100vh;margin:0;color:#333}}</style>
</head><body><p>Starting the preview of <b>{app_id}</b>&hellip;</p>
<script>
(function retry() {{
  fetch(location.href, {{ cache: "no-store" }})
    .then(function (r) {{ if (r.status < 500) location.reload(); else setTimeout(retry, 1000); }})
    .catch(function () {{ setTimeout(retry, 1000); }});
}})();
</script></body></html>
"#
    );
    page(StatusCode::SERVICE_UNAVAILABLE, body, Some(1))
}

pub(super) fn not_found(app_id: &AppId) -> Response<Body> {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>No preview</title></head>\
         <body><h1>No preview for {app_id}</h1><p>There is no preview named preview-{app_id}. \
         Create it with <code>POST /v1/apps/{app_id}/provision-preview</code>.</p></body></html>\n"
    );
    page(StatusCode::NOT_FOUND, body, None)
}

pub(super) fn unavailable(app_id: &AppId) -> Response<Body> {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview unavailable</title></head>\
         <body><h1>The preview of {app_id} did not answer in time</h1><p>Retry in a moment.</p></body></html>\n"
    );
    page(StatusCode::SERVICE_UNAVAILABLE, body, Some(2))
}

pub(super) fn bad_gateway(app_id: &AppId) -> Response<Body> {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Preview error</title></head>\
         <body><h1>The preview of {app_id} failed to answer</h1><p>Its dev server closed the connection.</p></body></html>\n"
    );
    page(StatusCode::BAD_GATEWAY, body, None)
}

fn page(status: StatusCode, body: String, retry_after: Option<u64>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
