//! The proxy against a stub backend and a stub dev server on loopback.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{any, get};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// A dev server: echoes what it saw, and echoes bytes after an `Upgrade: echo`.
async fn spawn_dev_server() -> u16 {
    async fn echo_request(request: Request) -> String {
        let headers = request.headers();
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
        };
        format!(
            "{} {} host={} forwarded={}",
            request.method(),
            request.uri(),
            get("host"),
            get("x-forwarded-host")
        )
    }
    async fn upgrade(mut request: Request) -> Response {
        let on_upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let mut io = hyper_util::rt::TokioIo::new(on_upgrade.await.expect("upgrade"));
            let mut buffer = [0u8; 64];
            while let Ok(read) = io.read(&mut buffer).await {
                if read == 0 || io.write_all(&buffer[..read]).await.is_err() {
                    break;
                }
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "echo")
            .body(Body::empty())
            .expect("response")
    }
    let app = Router::new()
        .route("/upgrade", get(upgrade))
        .fallback(any(echo_request));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind dev server");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("dev server") });
    port
}

use axum::http::StatusCode;

struct StubBackend {
    target: Mutex<Target>,
    /// The port the preview gets when woken.
    wake_port: u16,
    wakes: AtomicUsize,
    touches: AtomicUsize,
}

#[async_trait]
impl ProxyBackend for StubBackend {
    async fn target(&self, _app_id: &AppId) -> anyhow::Result<Target> {
        Ok(*self.target.lock().expect("lock"))
    }
    async fn wake(&self, _app_id: &AppId) -> anyhow::Result<()> {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        *self.target.lock().expect("lock") = Target::Running {
            port: self.wake_port,
        };
        Ok(())
    }
    async fn touch(&self, _app_id: &AppId) {
        self.touches.fetch_add(1, Ordering::SeqCst);
    }
    async fn access(&self, _app_id: &AppId) -> anyhow::Result<PreviewAccess> {
        Ok((sync_protocol::access::Visibility::Public, None))
    }
}

/// Serves an API router with the proxy in front; returns the address and the backend.
async fn spawn_proxy(target: Target, wake_port: u16) -> (u16, Arc<StubBackend>) {
    spawn_proxy_touching_every(target, wake_port, Duration::from_secs(60)).await
}

async fn spawn_proxy_touching_every(
    target: Target,
    wake_port: u16,
    touch_interval: Duration,
) -> (u16, Arc<StubBackend>) {
    let backend = Arc::new(StubBackend {
        target: Mutex::new(target),
        wake_port,
        wakes: AtomicUsize::new(0),
        touches: AtomicUsize::new(0),
    });
    let config = ProxyConfig {
        wake_wait: Duration::from_secs(5),
        touch_interval,
    };
    let proxy = EdgeProxy::new(backend.clone(), config);
    let api = Router::new()
        .route("/healthz", get(|| async { "api" }))
        .layer(axum::middleware::from_fn_with_state(proxy, route_by_host));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, api).await.expect("proxy") });
    (port, backend)
}

/// One HTTP/1.1 request over a fresh connection; returns status, headers and body.
async fn send(port: u16, host: &str, path: &str, accept: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).await.expect("read");
    let status = text[9..12].parse().expect("status code");
    (status, text)
}

#[test]
fn parses_preview_hosts() {
    let parse = |host| preview_app_id(host).map(|id| id.as_str().to_owned());
    assert_eq!(
        parse("preview-my-app.localhost:8080"),
        Some("my-app".to_owned())
    );
    assert_eq!(parse("preview-a1.localhost"), Some("a1".to_owned()));
    assert_eq!(parse("Preview-A1.LOCALHOST:80"), Some("a1".to_owned()));
    assert_eq!(parse("localhost:8080"), None);
    assert_eq!(parse("preview-.localhost"), None);
    assert_eq!(parse("preview-a_b.localhost"), None);
    assert_eq!(parse("preview-a.example.com"), None);
    assert_eq!(parse("preview-a.localhost.evil.com"), None);
}

#[test]
fn a_fully_qualified_preview_host_with_a_trailing_dot_is_routed() {
    let parse = |host| preview_app_id(host).map(|id| id.as_str().to_owned());
    assert_eq!(parse("preview-a1.localhost."), Some("a1".to_owned()));
    assert_eq!(parse("preview-a1.localhost.:8080"), Some("a1".to_owned()));
    assert_eq!(parse("preview-a1.localhost.."), None);
    assert_eq!(parse("preview-a1-.localhost."), None);
}

#[test]
fn html_navigation_is_detected() {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
    );
    assert!(wants_html(&Method::GET, &headers));
    assert!(!wants_html(&Method::POST, &headers));
    assert!(!wants_html(&Method::GET, &HeaderMap::new()));
}

use axum::http::HeaderValue;

#[tokio::test]
async fn forwards_with_rewritten_host_and_leaves_the_api_alone() {
    let dev_port = spawn_dev_server().await;
    let (proxy_port, backend) = spawn_proxy(Target::Running { port: dev_port }, dev_port).await;

    let (status, text) = send(
        proxy_port,
        "preview-a.localhost:1234",
        "/src/main.js?t=1",
        "*/*",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(&format!("GET /src/main.js?t=1 host=localhost:{dev_port}")),
        "{text}"
    );
    assert!(
        text.contains("forwarded=preview-a.localhost:1234"),
        "{text}"
    );
    assert_eq!(backend.touches.load(Ordering::SeqCst), 1);

    // A path the API router also has still goes to the preview on a preview host.
    let (_, text) = send(proxy_port, "preview-a.localhost:1234", "/healthz", "*/*").await;
    assert!(text.contains("GET /healthz host=localhost"), "{text}");
    // Another host reaches the API.
    let (status, text) = send(proxy_port, "127.0.0.1", "/healthz", "*/*").await;
    assert_eq!(status, 200);
    assert!(text.ends_with("api"), "{text}");
}

#[tokio::test]
async fn unknown_preview_gets_a_404_page() {
    let (proxy_port, _) = spawn_proxy(Target::Unknown, 1).await;
    let (status, text) = send(proxy_port, "preview-nope.localhost", "/", "text/html").await;
    assert_eq!(status, 404);
    assert!(
        text.contains("There is no preview named preview-nope"),
        "{text}"
    );
}

#[tokio::test]
async fn asleep_preview_shows_loading_page_to_browsers_and_wakes() {
    let dev_port = spawn_dev_server().await;
    let (proxy_port, backend) = spawn_proxy(Target::Asleep, dev_port).await;

    let (status, text) = send(proxy_port, "preview-a.localhost", "/", "text/html,*/*").await;
    assert_eq!(status, 503);
    assert!(text.contains("Starting the preview of <b>a</b>"), "{text}");

    // The loading page's own retry (a plain fetch) is held until the app answers.
    let (status, text) = send(proxy_port, "preview-a.localhost", "/", "*/*").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("GET / host=localhost"), "{text}");
    assert_eq!(
        backend.wakes.load(Ordering::SeqCst),
        1,
        "one wake for the burst"
    );
}

#[tokio::test]
async fn reconnect_pings_of_an_open_tab_do_not_wake() {
    let dev_port = spawn_dev_server().await;
    let (proxy_port, backend) = spawn_proxy(Target::Asleep, dev_port).await;
    let (status, _) = send(proxy_port, "preview-a.localhost", "/", "text/x-vite-ping").await;
    assert_eq!(status, 503);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(backend.wakes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn asleep_preview_holds_api_requests_until_it_answers() {
    let dev_port = spawn_dev_server().await;
    let (proxy_port, backend) = spawn_proxy(Target::Asleep, dev_port).await;
    let (status, text) = send(
        proxy_port,
        "preview-a.localhost",
        "/data.json",
        "application/json",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("GET /data.json"), "{text}");
    assert_eq!(backend.wakes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn running_process_without_listener_is_held_then_answers() {
    // Reserve a port, then start the dev server on it a little later.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dev_port = listener.local_addr().expect("address").port();
    drop(listener);
    let (proxy_port, _) = spawn_proxy(Target::Running { port: dev_port }, dev_port).await;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let listener = TcpListener::bind(("127.0.0.1", dev_port))
            .await
            .expect("rebind");
        axum::serve(listener, Router::new().fallback(|| async { "late" }))
            .await
            .expect("serve");
    });
    let (status, text) = send(proxy_port, "preview-a.localhost", "/", "*/*").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("late"), "{text}");
}

#[tokio::test]
async fn a_request_waiting_for_a_slow_dev_server_keeps_its_preview_awake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dev_port = listener.local_addr().expect("address").port();
    drop(listener);
    let (proxy_port, backend) =
        spawn_proxy_touching_every(Target::Running { port: dev_port }, dev_port, Duration::ZERO)
            .await;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = TcpListener::bind(("127.0.0.1", dev_port))
            .await
            .expect("rebind");
        axum::serve(listener, Router::new().fallback(|| async { "late" }))
            .await
            .expect("serve");
    });
    let (status, text) = send(proxy_port, "preview-a.localhost", "/", "*/*").await;
    assert_eq!(status, 200, "{text}");
    // One touch for the request itself, more while it waited: the idle
    // reaper sees a visitor, not an idle preview.
    assert!(backend.touches.load(Ordering::SeqCst) > 2);
}

#[tokio::test]
async fn upgrades_are_tunnelled_both_ways() {
    let dev_port = spawn_dev_server().await;
    let (proxy_port, _) = spawn_proxy(Target::Running { port: dev_port }, dev_port).await;

    let mut stream = TcpStream::connect(("127.0.0.1", proxy_port))
        .await
        .expect("connect");
    let request = "GET /upgrade HTTP/1.1\r\nHost: preview-a.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );

    for message in [&b"ping"[..], b"second message"] {
        stream
            .write_all(message)
            .await
            .expect("write through tunnel");
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
            .await
            .expect("echo in time")
            .expect("read echo");
        assert_eq!(echoed, message);
    }
}
