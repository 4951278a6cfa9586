//! What the gateway answers itself while the dev server is not up: a
//! loading page for a browser, which shows the install and start output as
//! it comes and reloads once the app answers, and a `503` with
//! `Retry-After` for everyone else. Self-contained: no asset of the page
//! would itself reach the dev server.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;
use sync_protocol::DevServerState;

/// The gateway's own routes live under this prefix, outside any app's.
pub const HEALTH_PATH: &str = "/__preview/health";
/// Names the gateway's own answers (`health`, `not-ready`), so the edge
/// proxy in front can tell them from the app's.
pub const GATEWAY_HEADER: &str = "x-preview-gateway";
/// How many output lines the loading page and the health route show.
pub const SHOWN_LINES: usize = 40;

/// The body of [`HEALTH_PATH`]: the gateway answers, so it is `200`; whether
/// the app does is `ready`.
#[derive(Clone, Debug, Serialize)]
pub struct Health {
    pub gateway: &'static str,
    pub ready: bool,
    pub dev_server: DevServerState,
    /// Where the gateway forwards, once the dev server answered.
    pub upstream: Option<String>,
    pub message: Option<String>,
    pub output: Vec<String>,
}

impl Health {
    /// Leaves out what the app wrote (its output, the supervisor's message
    /// quoting it): for those not let in.
    pub fn withhold_app_text(&mut self) {
        self.output.clear();
        self.message = None;
    }
}

/// A browser navigation (rather than a script's fetch or an asset load).
pub fn wants_html(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::GET
        && headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// The loading page: the state and recent output, escaped, then a script
/// that polls the health route, shows new output and reloads when ready.
pub fn loading(health: &Health) -> Response<Body> {
    let state = escape(&format!("{:?}", health.dev_server).to_lowercase());
    let message = health.message.as_deref().map(escape).unwrap_or_default();
    let output = escape(&health.output.join("\n"));
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Starting the preview</title>
<meta name="preview-gateway" content="loading">
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#333}}pre{{background:#f4f4f4;padding:1rem;max-height:60vh;overflow:auto;white-space:pre-wrap}}</style>
</head><body><h1>Starting the preview&hellip;</h1>
<p>Dev server: <b id="state">{state}</b> <span id="message">{message}</span></p>
<pre id="output">{output}</pre>
<script>
(function poll() {{
  fetch("{HEALTH_PATH}", {{ cache: "no-store" }})
    .then(function (r) {{ return r.json(); }})
    .then(function (h) {{
      if (h.ready) {{ location.reload(); return; }}
      document.getElementById("state").textContent = h.dev_server;
      document.getElementById("message").textContent = h.message || "";
      var out = document.getElementById("output");
      out.textContent = h.output.join("\n");
      out.scrollTop = out.scrollHeight;
      setTimeout(poll, 500);
    }})
    .catch(function () {{ setTimeout(poll, 1000); }});
}})();
</script></body></html>
"#
    );
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    set_common(response.headers_mut(), "text/html; charset=utf-8");
    response
}

/// For clients that are not a browser navigation.
pub fn unavailable(health: &Health) -> Response<Body> {
    let body = serde_json::json!({
        "error": {
            "code": "dev_server_not_ready",
            "message": format!(
                "the preview's dev server is {} and does not answer yet; retry after the Retry-After delay",
                format!("{:?}", health.dev_server).to_lowercase()
            ),
        }
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    set_common(response.headers_mut(), "application/json");
    response
}

pub fn health(health: &Health) -> Response<Body> {
    let body = serde_json::to_vec(health).expect("the health body serializes");
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(GATEWAY_HEADER, HeaderValue::from_static("health"));
    response
}

fn set_common(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    headers.insert(GATEWAY_HEADER, HeaderValue::from_static("not-ready"));
}

/// HTML text escaping: the output is the app's, not ours.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starting(output: &[&str]) -> Health {
        Health {
            gateway: "ok",
            ready: false,
            dev_server: DevServerState::Installing,
            upstream: None,
            message: None,
            output: output.iter().map(|line| (*line).to_owned()).collect(),
        }
    }

    #[tokio::test]
    async fn the_loading_page_shows_the_output_escaped() {
        let response = loading(&starting(&["install | <script>alert(1)</script> & done"]));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("install | &lt;script&gt;alert(1)&lt;/script&gt; &amp; done"));
        assert!(!body.contains("<script>alert(1)"));
        assert!(body.contains("<b id=\"state\">installing</b>"));
    }

    #[test]
    fn only_a_browser_navigation_gets_the_page() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/html,*/*"));
        let cases = [
            (Method::GET, headers.clone(), true),
            (Method::POST, headers, false),
            (Method::GET, HeaderMap::new(), false),
        ];
        for (method, headers, expected) in cases {
            assert_eq!(
                wants_html(&method, &headers),
                expected,
                "{method} {headers:?}"
            );
        }
    }
}
