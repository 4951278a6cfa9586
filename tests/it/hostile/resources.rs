//! What an anonymous client can grow or hold stays bounded: the metrics'
//! label sets, and connections that never finish their headers.

use std::time::{Duration, Instant};

use preview_tests::provisioner::TestProvisioner;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::files_api::written;

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let before = provisioner.metrics().await.text().await.unwrap();

    for index in 0..200 {
        let method = Method::from_bytes(format!("M{index}{}", "X".repeat(400)).as_bytes()).unwrap();
        let path = format!("/made-up/{index}");
        provisioner.request(method, &path).send().await.unwrap();
    }

    let after = provisioner.metrics().await.text().await.unwrap();
    assert!(!after.contains("XXXX"), "a made-up method became a label");
    assert!(!after.contains("/made-up/"), "a raw path became a label");
    let other = "method=\"OTHER\",route=\"unmatched\",status=\"404\"} 200";
    assert!(after.contains(other), "{after}");
    let request_lines = |text: &str| {
        text.lines()
            .filter(|line| line.starts_with("provisioner_http_requests_total{"))
            .count()
    };
    let grown = request_lines(&after) - request_lines(&before);
    assert!(grown <= 2, "{grown} new request label sets:\n{after}");
}

/// Opens a connection and sends the start of a request, never its end.
async fn half_sent(address: std::net::SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .ok()?;
    Some(stream)
}

/// Whether the server closed `stream` (end of file or reset) within a moment.
async fn closed_by_server(mut stream: TcpStream) -> bool {
    let mut buffer = [0_u8; 512];
    matches!(
        tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buffer)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn three_hundred_half_sent_requests_do_not_make_the_api_unreachable() {
    let provisioner = TestProvisioner::spawn_with_args(&["--max-connections", "100"])
        .await
        .unwrap();
    let token = provisioner.mint_sync_token("app").await.unwrap();
    // A long-poll waiting before the flood, on a connection of its own.
    let long_poll = provisioner
        .request_as(Method::GET, "/v1/apps/app/files?since=0&wait=30", &token)
        .send();
    let long_poll = tokio::spawn(long_poll);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut held = Vec::new();
    for _ in 0..300 {
        held.extend(half_sent(provisioner.address()).await);
    }
    // A real client arrives on new connections.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let started = Instant::now();
    let health = client
        .get(format!("{}/healthz", provisioner.base_url()))
        .send()
        .await
        .unwrap();
    let write = client
        .put(format!(
            "{}/v1/apps/app/files/a.txt",
            provisioner.base_url()
        ))
        .bearer_auth(provisioner.api_key())
        .body("during the flood")
        .send()
        .await
        .unwrap();

    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered only after {:?}",
        started.elapsed()
    );
    written(write).await;
    let long_poll = long_poll.await.unwrap().unwrap();
    assert_eq!(long_poll.status(), StatusCode::OK, "the long-poll was cut");
    assert_eq!(long_poll.headers()["x-revision"], "1");
    let closed = futures::future::join_all(held.into_iter().map(closed_by_server)).await;
    let closed = closed.into_iter().filter(|closed| *closed).count();
    assert!(
        closed >= 200,
        "only {closed} of 300 idle connections gave way"
    );
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let provisioner = TestProvisioner::spawn_with_args(&["--header-read-timeout", "500ms"])
        .await
        .unwrap();
    let mut stream = half_sent(provisioner.address()).await.unwrap();

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;

    assert!(closed.is_ok(), "still open after 10 s");
    let health = provisioner.healthz().await;
    assert_eq!(health.status(), StatusCode::OK);
}

/// The value of the unlabelled metric `name` in a `/metrics` text.
fn metric(text: &str, name: &str) -> u64 {
    let prefix = format!("{name} ");
    let line = text.lines().find(|line| line.starts_with(&prefix));
    let value = line.unwrap_or_else(|| panic!("no {name} in:\n{text}"));
    value[prefix.len()..].parse().unwrap()
}

/// Saves version `version` of the churned file: 100 bytes.
async fn save(provisioner: &TestProvisioner, version: u32) {
    let content = format!("{version:0>100}");
    written(provisioner.put_file("churn", "a.txt", content).await).await;
}

#[tokio::test]
async fn the_blob_sweep_runs_on_garbage_bytes_and_counts_them_in_the_metrics() {
    // Arrange: a sweep once 10,000 bytes of content were replaced; one file
    // of 100 bytes rewritten, so each rewrite makes 100 bytes of garbage.
    let args = ["--sweep-after-garbage-bytes", "10000"];
    let mut provisioner = TestProvisioner::spawn_with_args(&args).await.unwrap();
    for version in 0..51 {
        save(&provisioner, version).await;
    }

    // 50 replaced versions: counted, not swept, and still counted after a
    // crash and restart (the count is in the store).
    provisioner.restart().await.unwrap();
    for version in 51..100 {
        save(&provisioner, version).await;
    }
    let text = provisioner.metrics().await.text().await.unwrap();
    assert_eq!(
        metric(&text, "provisioner_blob_garbage_pending_bytes"),
        9_900
    );
    assert_eq!(metric(&text, "provisioner_blob_garbage_pending_blobs"), 99);
    assert_eq!(metric(&text, "provisioner_blobs_swept_total"), 0);

    // Act: the rewrite that makes the 10,000th byte of garbage.
    save(&provisioner, 100).await;

    // Assert: the sweep removes every replaced version and settles the count.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = provisioner.metrics().await.text().await.unwrap();
        if metric(&text, "provisioner_blobs_swept_total") == 100 {
            assert_eq!(metric(&text, "provisioner_blob_bytes_swept_total"), 10_000);
            assert_eq!(metric(&text, "provisioner_blob_garbage_pending_bytes"), 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the sweep did not report 100 removed blobs:\n{text}");
}
