//! Forwarding one request to a dev server on loopback, over a pooled HTTP/1
//! client, and tunnelling WebSocket upgrades byte for byte.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

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

pub(super) enum ForwardError {
    /// Nothing listens on the port yet. Carries the request again when it had
    /// no body, so the caller can retry it once the dev server answers.
    Connect(Option<Box<Request>>),
    Other(anyhow::Error),
}

#[derive(Clone)]
pub(super) struct Forwarder {
    client: Client<HttpConnector, Body>,
}

impl Forwarder {
    pub(super) fn new() -> Forwarder {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(32)
            .build(connector);
        Forwarder { client }
    }

    /// Sends `request` to `127.0.0.1:port` with `Host: localhost:<port>`; the
    /// browser's host travels in `X-Forwarded-Host`.
    pub(super) async fn forward(
        &self,
        mut request: Request,
        port: u16,
        original_host: Option<HeaderValue>,
    ) -> Result<Response<Body>, ForwardError> {
        let upgrade = request.headers().get(header::UPGRADE).cloned();
        let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut request));
        let retry = replayable_copy(&request);

        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = Uri::try_from(format!("http://127.0.0.1:{port}{path}"))
            .map_err(|error| ForwardError::Other(error.into()))?;
        strip_hop_by_hop(&mut parts.headers);
        if let Some(upgrade) = &upgrade {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, upgrade.clone());
        }
        let upstream_host = HeaderValue::try_from(format!("localhost:{port}"))
            .map_err(|error| ForwardError::Other(error.into()))?;
        parts.headers.insert(header::HOST, upstream_host);
        if let Some(host) = original_host {
            parts
                .headers
                .insert(HeaderName::from_static("x-forwarded-host"), host);
        }
        parts.headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("http"),
        );

        let mut response = match self.client.request(Request::from_parts(parts, body)).await {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Err(ForwardError::Connect(retry.map(Box::new)));
            }
            Err(error) => return Err(ForwardError::Other(error.into())),
        };

        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            if let Some(client_upgrade) = client_upgrade {
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade));
            }
            let (parts, _) = response.into_parts();
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }
}

/// The path of the preview gateway's own health route (in the sync-daemon).
const GATEWAY_HEALTH: &str = "/__preview/health";

impl Forwarder {
    /// Whether the preview on `port` serves its app: its gateway's health
    /// route says `ready`. Anything else answering HTTP there (a dev server
    /// without a gateway in front) counts as ready.
    pub(super) async fn ready(&self, port: u16) -> bool {
        let Ok(uri) = Uri::try_from(format!("http://127.0.0.1:{port}{GATEWAY_HEALTH}")) else {
            return false;
        };
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = uri;
        let Ok(response) = self.client.request(request).await else {
            return false;
        };
        let is_gateway = response.headers().contains_key("x-preview-gateway");
        if !is_gateway {
            return true;
        }
        let Ok(body) = http_body_util::BodyExt::collect(response.into_body()).await else {
            return false;
        };
        serde_json::from_slice::<serde_json::Value>(&body.to_bytes())
            .is_ok_and(|health| health["ready"] == true)
    }
}

/// A `503` the preview's gateway answered because its dev server is not up.
pub(super) fn gateway_not_ready(response: &Response<Body>) -> bool {
    response.status() == StatusCode::SERVICE_UNAVAILABLE
        && response
            .headers()
            .get("x-preview-gateway")
            .is_some_and(|value| value.as_bytes() == b"not-ready")
}

/// Joins the browser's upgraded connection to the dev server's.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::debug!(error = %error, "websocket upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %error, "websocket tunnel closed with an error");
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
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

/// A copy of a request without a body (GET, HEAD, ...), which can be sent
/// again if the first attempt found nothing listening.
pub(super) fn replayable_copy(request: &Request) -> Option<Request> {
    let has_body = request.headers().contains_key(header::TRANSFER_ENCODING)
        || request
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    if has_body || request.headers().contains_key(header::UPGRADE) {
        return None;
    }
    let mut copy = Request::new(Body::empty());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}
