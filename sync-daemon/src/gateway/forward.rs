//! Forwarding one request to the dev server over a pooled HTTP/1 client,
//! bodies streamed both ways, and WebSocket upgrades (HMR) tunnelled byte
//! for byte; on a dev server's HMR socket each push to the page is noted
//! (`render::hmr`), to tie the page's reports to revisions.
//!
//! The dev server is told it is being visited at its own address: `Host`,
//! `Origin` and `Referer` name `localhost:<port>`, so Vite's `allowedHosts`,
//! its WebSocket origin check and Next's `allowedDevOrigins` accept the
//! preview's public name without the app's config knowing it. The public
//! name travels in `X-Forwarded-Host`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Uri, Version, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::render::hmr::{self, HmrPushes};

/// Headers that describe one hop, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Nothing listens at the dev server's address (it restarts, say).
    #[error("the dev server refused the connection")]
    Connect,
    #[error("the dev server failed to answer: {0}")]
    Other(String),
}

#[derive(Clone)]
pub struct Forwarder {
    client: Client<HttpConnector, Body>,
    pushes: HmrPushes,
}

impl Forwarder {
    /// Notes the dev server's HMR pushes in `pushes`.
    pub fn new(pushes: HmrPushes) -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(32)
            .build(connector);
        Forwarder { client, pushes }
    }

    /// Sends `request` to the dev server at `upstream`.
    pub async fn forward(
        &self,
        mut request: Request,
        upstream: SocketAddr,
    ) -> Result<Response<Body>, ForwardError> {
        let upgrade = request.headers().get(header::UPGRADE).cloned();
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));
        let protocols = request.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
        let noted = hmr::is_hmr_socket(
            request.uri().path(),
            protocols.and_then(|value| value.to_str().ok()),
        )
        .then(|| self.pushes.clone());
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = Uri::try_from(format!("http://{upstream}{path}"))
            .map_err(|error| ForwardError::Other(error.to_string()))?;
        strip_hop_by_hop(&mut parts.headers);
        rewrite_origin_headers(&mut parts.headers, upstream.port());
        if let Some(upgrade) = &upgrade {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, upgrade.clone());
        }
        let mut response = match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(error) if error.is_connect() => return Err(ForwardError::Connect),
            Err(error) => return Err(ForwardError::Other(error.to_string())),
        };
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            if let Some(client_upgrade) = client_upgrade {
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade, noted));
            }
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        // An HTTP/1.0 dev server (Python's http.server) must not turn the
        // browser's connection into HTTP/1.0.
        parts.version = Version::HTTP_11;
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

/// Names the dev server's own origin in `Host`, `Origin` and `Referer`; keeps
/// the public host (or the one an edge proxy already forwarded) in
/// `X-Forwarded-Host` and the scheme in `X-Forwarded-Proto`.
pub fn rewrite_origin_headers(headers: &mut HeaderMap, port: u16) {
    let own_host = format!("localhost:{port}");
    let own_origin = format!("http://{own_host}");
    let forwarded_host = HeaderName::from_static("x-forwarded-host");
    let forwarded_proto = HeaderName::from_static("x-forwarded-proto");
    if !headers.contains_key(&forwarded_host)
        && let Some(host) = headers.get(header::HOST).cloned()
    {
        headers.insert(forwarded_host, host);
    }
    if !headers.contains_key(&forwarded_proto) {
        headers.insert(forwarded_proto, HeaderValue::from_static("http"));
    }
    headers.insert(
        header::HOST,
        HeaderValue::try_from(own_host).expect("a host name and a port make a header value"),
    );
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_some_and(|origin| origin != "null") {
        headers.insert(
            header::ORIGIN,
            HeaderValue::try_from(own_origin.as_str()).expect("an origin is a header value"),
        );
    }
    let referer = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| rewrite_referer(referer, &own_origin));
    if let Some(referer) = referer.and_then(|text| HeaderValue::try_from(text).ok()) {
        headers.insert(header::REFERER, referer);
    }
}

/// `https://preview-x.fly.dev/a?b` → `http://localhost:5173/a?b`; `None`
/// for something that is not an absolute http(s) URL.
fn rewrite_referer(referer: &str, own_origin: &str) -> Option<String> {
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let path = rest
        .find(['/', '?', '#'])
        .map_or("/", |index| &rest[index..]);
    Some(format!("{own_origin}{path}"))
}

/// Joins the browser's upgraded connection to the dev server's.
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    upstream: hyper::upgrade::OnUpgrade,
    noted: Option<HmrPushes>,
) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = Noting {
        inner: TokioIo::new(upstream),
        pushes: noted,
    };
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(%error, "websocket tunnel closed with an error");
    }
}

/// The dev server's end of a tunnel: each read that brings bytes is a push
/// to the page, noted when the socket is an HMR one.
struct Noting<T> {
    inner: T,
    pushes: Option<HmrPushes>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Noting<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buffer.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(context, buffer);
        if buffer.filled().len() > before
            && let Some(pushes) = &self.pushes
        {
            pushes.record();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Noting<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(context, bytes)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        rewrite_origin_headers(&mut headers, 5173);
        headers
    }

    #[test]
    fn the_dev_server_sees_its_own_origin_and_the_public_host_is_forwarded() {
        let headers = rewritten(&[
            ("host", "preview-web.fly.dev"),
            ("origin", "https://preview-web.fly.dev"),
            ("referer", "https://preview-web.fly.dev/src/App.jsx?t=1#x"),
        ]);
        assert_eq!(headers["host"], "localhost:5173");
        assert_eq!(headers["origin"], "http://localhost:5173");
        assert_eq!(
            headers["referer"],
            "http://localhost:5173/src/App.jsx?t=1#x"
        );
        assert_eq!(headers["x-forwarded-host"], "preview-web.fly.dev");
        assert_eq!(headers["x-forwarded-proto"], "http");
    }

    #[test]
    fn what_an_edge_proxy_forwarded_is_kept() {
        let headers = rewritten(&[
            ("host", "localhost:40123"),
            ("x-forwarded-host", "preview-web.localhost:8080"),
            ("x-forwarded-proto", "https"),
            ("origin", "null"),
            ("referer", "about:blank"),
        ]);
        assert_eq!(headers["host"], "localhost:5173");
        assert_eq!(headers["x-forwarded-host"], "preview-web.localhost:8080");
        assert_eq!(headers["x-forwarded-proto"], "https");
        assert_eq!(headers["origin"], "null", "an opaque origin stays opaque");
        assert_eq!(headers["referer"], "about:blank");
    }

    #[test]
    fn referers_keep_their_path() {
        let cases = [
            ("http://a.test", Some("http://localhost:1/")),
            ("https://a.test:8443?q", Some("http://localhost:1?q")),
            ("http://a.test/x/y", Some("http://localhost:1/x/y")),
            ("ftp://a.test/x", None),
        ];
        for (referer, expected) in cases {
            assert_eq!(
                rewrite_referer(referer, "http://localhost:1").as_deref(),
                expected,
                "{referer}"
            );
        }
    }
}
