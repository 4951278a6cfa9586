//! A small HTTP round-robin proxy, as a load balancer in front of several
//! instances: each request goes to the next upstream in turn, so the
//! requests of one client (a daemon's long-polls, a writer's saves) spread
//! over every instance. The upstreams can be replaced while it runs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::task::JoinHandle;

pub struct RoundRobin {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    upstreams: Mutex<Vec<SocketAddr>>,
    next: AtomicUsize,
    client: reqwest::Client,
}

/// Hop-by-hop headers a proxy does not forward.
const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "transfer-encoding", "host"];

impl RoundRobin {
    pub async fn start(upstreams: Vec<SocketAddr>) -> RoundRobin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstreams: Mutex::new(upstreams),
            next: AtomicUsize::new(0),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .no_proxy()
                .build()
                .unwrap(),
        });
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        RoundRobin {
            address,
            shared,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn point_at(&self, upstreams: Vec<SocketAddr>) {
        *self.shared.upstreams.lock().unwrap() = upstreams;
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let upstream = {
        let upstreams = shared.upstreams.lock().unwrap();
        if upstreams.is_empty() {
            return StatusCode::BAD_GATEWAY.into_response();
        }
        upstreams[shared.next.fetch_add(1, Ordering::Relaxed) % upstreams.len()]
    };
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut outbound = shared
        .client
        .request(parts.method, format!("http://{upstream}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            outbound = outbound.header(name, value);
        }
    }
    let Ok(answer) = outbound.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != HeaderName::from_static("content-length")
        {
            response = response.header(name, value);
        }
    }
    let body: Bytes = answer.bytes().await.unwrap_or_default();
    response.body(Body::from(body)).unwrap()
}
