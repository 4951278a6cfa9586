//! The preview gateway through the real daemon: it answers before the dev
//! server does (a loading page for browsers, `503` with `Retry-After` for
//! the rest), then forwards HTTP with streaming bodies and WebSocket
//! upgrades to the dev server on its private port, naming the dev server's
//! own origin; it finds a dev server that listens elsewhere than told; and
//! a dev server that never answers is reported with its last output.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use preview_tests::daemon::{TestDaemon, wait_until};
use serde_json::Value;

use crate::daemon::{CONVERGE, Setup, setup};

/// A dev server in one file. It waits `__DELAY__` ms before listening on
/// `__PORT__` (`PORT`, or 0 for a port of its own choosing);
/// `/headers` answers the request's headers as JSON, `POST /echo` streams
/// the body back, and an upgrade becomes a raw echo tunnel.
const SERVER_JS: &str = r#"
const http = require('http');
const server = http.createServer((request, response) => {
  if (request.url === '/headers') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(request.headers));
    return;
  }
  if (request.url === '/echo') {
    request.pipe(response);
    return;
  }
  response.setHeader('content-type', 'text/html');
  response.end('<!doctype html><p id="app">hello from the app</p>');
});
server.on('upgrade', (request, socket) => {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  socket.pipe(socket);
});
setTimeout(() => server.listen(__PORT__, '127.0.0.1'), __DELAY__);
"#;

/// The app: a `start` script the daemon detects, and the server.
fn app_files(delay_ms: u64, port: &str) -> BTreeMap<String, Option<Vec<u8>>> {
    let server = SERVER_JS
        .replace("__DELAY__", &delay_ms.to_string())
        .replace("__PORT__", port);
    [
        (
            "package.json".to_owned(),
            Some(br#"{"name":"app","scripts":{"start":"node server.js"}}"#.to_vec()),
        ),
        ("server.js".to_owned(), Some(server.into_bytes())),
    ]
    .into()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One raw HTTP/1.1 exchange with the gateway: (status, headers, body).
fn exchange(port: u16, request: &str) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("gateway listens");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn get(port: u16, path: &str, extra_headers: &str) -> (u16, String, String) {
    exchange(
        port,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: preview-app.example\r\n{extra_headers}Connection: close\r\n\r\n"
        ),
    )
}

fn health(port: u16) -> Value {
    let (status, _, body) = get(port, "/__preview/health", "");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn spawn_gateway(
    setup: &Setup,
    files: BTreeMap<String, Option<Vec<u8>>>,
    port: u16,
    extra: &[&str],
) -> TestDaemon {
    setup.apply(&files).await;
    let port = port.to_string();
    let mut args = vec!["--exec", "auto", "--install", "true", "--port", &port];
    args.extend_from_slice(extra);
    setup.spawn_daemon(&args)
}

#[tokio::test]
async fn the_gateway_answers_before_the_dev_server_then_forwards_to_it() {
    // Arrange: a dev server that takes 3 s to listen.
    let setup = setup("gateway-forward").await;
    let port = free_port();
    let files = app_files(3000, "Number(process.env.PORT)");
    let daemon = spawn_gateway(&setup, files, port, &[]).await;
    assert!(
        wait_until(CONVERGE, || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok())
        .await,
        "{}",
        daemon.log()
    );

    // Act and assert: before the dev server listens.
    let (status, head, body) = get(port, "/", "Accept: text/html\r\n");
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after: 2"), "{head}");
    assert!(
        body.contains(r#"<meta name="preview-gateway" content="loading">"#),
        "{body}"
    );
    let (status, head, body) = get(port, "/assets/app.js", "");
    assert_eq!(status, 503);
    assert!(head.contains("retry-after"), "{head}");
    assert!(head.contains("x-preview-gateway: not-ready"), "{head}");
    assert!(body.contains("dev_server_not_ready"), "{body}");
    assert_eq!(health(port)["ready"], false);

    // Once it answers: forwarded, with the dev server's own origin.
    assert!(
        wait_until(CONVERGE, || health(port)["ready"] == true).await,
        "{}",
        daemon.log()
    );
    let (status, _, body) = get(port, "/", "Accept: text/html\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("hello from the app"), "{body}");
    let (status, _, body) = get(
        port,
        "/headers",
        "Origin: https://preview-app.example\r\nReferer: https://preview-app.example/page?x=1\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let headers: Value = serde_json::from_str(&body).unwrap();
    let upstream = health(port)["upstream"].as_str().unwrap().to_owned();
    let dev_port = upstream.rsplit(':').next().unwrap();
    assert_ne!(
        dev_port,
        port.to_string(),
        "the dev server has a port of its own"
    );
    assert_eq!(headers["host"], format!("localhost:{dev_port}"));
    assert_eq!(headers["origin"], format!("http://localhost:{dev_port}"));
    assert_eq!(
        headers["referer"],
        format!("http://localhost:{dev_port}/page?x=1")
    );
    assert_eq!(headers["x-forwarded-host"], "preview-app.example");

    // A 2 MiB body goes there and back.
    let payload = "x".repeat(2 << 20);
    let (status, _, body) = exchange(
        port,
        &format!(
            "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        ),
    );
    assert_eq!(status, 200);
    assert!(body.contains(&payload[..1000]) && body.len() >= payload.len());

    // A WebSocket upgrade becomes a tunnel.
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /hmr HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    let mut rest = Vec::new();
    while !rest.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        rest.push(byte[0]);
    }
    stream.write_all(b"ping through the tunnel").unwrap();
    let mut echoed = [0u8; 23];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"ping through the tunnel");
}

#[tokio::test]
async fn a_dev_server_listening_elsewhere_than_told_is_found_and_forwarded_to() {
    // Arrange: the server ignores PORT and takes any free port.
    let setup = setup("gateway-elsewhere").await;
    let port = free_port();
    let dev_port = free_port().to_string();
    let files = app_files(0, "0");

    // Act
    let daemon = spawn_gateway(&setup, files, port, &["--dev-port", &dev_port]).await;

    // Assert
    assert!(
        wait_until(CONVERGE, || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()
            && health(port)["ready"] == true)
        .await,
        "{}",
        daemon.log()
    );
    let upstream = health(port)["upstream"].as_str().unwrap().to_owned();
    assert!(!upstream.ends_with(&format!(":{dev_port}")), "{upstream}");
    let (status, _, body) = get(port, "/", "");
    assert_eq!(status, 200);
    assert!(body.contains("hello from the app"), "{body}");
}

#[tokio::test]
async fn a_dev_server_that_never_answers_is_reported_unresponsive_with_its_last_output() {
    // Arrange: a dev command that prints and never listens.
    let setup = setup("gateway-silent").await;
    let port = free_port();
    setup
        .apply(&[("index.html".to_owned(), Some(b"hi".to_vec()))].into())
        .await;
    let port_arg = port.to_string();
    let daemon = setup.spawn_daemon(&[
        "--exec",
        "echo 'compiling <the app>'; sleep 600",
        "--port",
        &port_arg,
        "--ready-timeout",
        "2s",
    ]);

    // Act
    let unresponsive = || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && health(port)["dev_server"] == "unresponsive"
    };

    // Assert
    assert!(wait_until(CONVERGE, unresponsive).await, "{}", daemon.log());
    let message = health(port)["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("has not answered HTTP within 2 s"),
        "{message}"
    );
    assert!(message.contains("compiling <the app>"), "{message}");
    let (status, _, body) = get(port, "/", "Accept: text/html\r\n");
    assert_eq!(status, 503);
    assert!(
        body.contains("compiling &lt;the app&gt;"),
        "the loading page shows the output escaped: {body}"
    );
}
