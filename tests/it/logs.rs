//! The preview's logs end to end: the real provisioner on the local driver,
//! a sandboxed preview whose install and dev server print, the daemon
//! shipping what they print, and the operator reading the log
//! (`GET .../logs`) and following it (`GET .../logs/stream`).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use preview_tests::local_preview::LocalProvisioner;

pub(crate) const BOOT: Duration = Duration::from_secs(30);

/// A dev server that prints a banner and its whole environment at start,
/// and any `?text` it is sent at `/say`.
pub(crate) const CHATTY_SERVER: &str = r#"
const http = require('http');
console.log('chatty dev server listening on ' + process.env.PORT);
console.log('environment: ' + JSON.stringify(process.env));
http.createServer((request, response) => {
  const url = new URL(request.url, 'http://x');
  if (url.pathname === '/say') { console.log('said: ' + url.searchParams.get('text')); }
  response.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
"#;

pub(crate) const INSTALL: &str = "echo install step one && echo install step two >&2";

/// An install runs only for an app with a `package.json`.
pub(crate) const PACKAGE_JSON: &str = r#"{"name": "chatty", "private": true}"#;

/// One server-sent event: its id and its data, parsed.
#[derive(Debug)]
struct LineEvent {
    id: u64,
    source: String,
    text: String,
}

/// Reads `count` `line` events from a stream (bounded by `bound`).
async fn read_events(
    response: &mut reqwest::Response,
    buffer: &mut String,
    count: usize,
    bound: Duration,
) -> Vec<LineEvent> {
    let deadline = tokio::time::Instant::now() + bound;
    let mut events = Vec::new();
    while events.len() < count {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::to_owned)
            };
            if field("event: ").as_deref() != Some("line") {
                continue;
            }
            let data: Value = serde_json::from_str(&field("data: ").expect("data")).expect("json");
            events.push(LineEvent {
                id: field("id: ").expect("id").parse().expect("numeric id"),
                source: data["source"].as_str().expect("source").to_owned(),
                text: data["text"].as_str().expect("text").to_owned(),
            });
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {count} events in time: {events:?}",
                    events.len()
                )
            })
            .expect("stream read")
            .expect("stream still open");
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    events
}

async fn open_stream(
    provisioner: &LocalProvisioner,
    app: &str,
    last_event_id: Option<u64>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .get(format!(
            "{}/v1/apps/{app}/logs/stream",
            provisioner.base_url()
        ))
        .bearer_auth(provisioner.api_key());
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    let response = request.send().await.expect("stream");
    assert_eq!(response.status(), 200);
    response
}

/// The whole kept log as `(source, text)` pairs, read page by page.
pub(crate) async fn whole_log(provisioner: &LocalProvisioner, app: &str) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    let mut cursor = 0;
    loop {
        let (status, page) = provisioner
            .call(
                Method::GET,
                &format!("/v1/apps/{app}/logs?since={cursor}"),
                None,
            )
            .await
            .expect("logs");
        assert_eq!(status, 200, "{page}");
        let page_lines = page["lines"].as_array().expect("lines").clone();
        if page_lines.is_empty() {
            return lines;
        }
        for line in page_lines {
            assert!(line["at"].as_str().expect("at").ends_with('Z'), "{line}");
            lines.push((
                line["source"].as_str().expect("source").to_owned(),
                line["text"].as_str().expect("text").to_owned(),
            ));
        }
        cursor = page["cursor"].as_u64().expect("cursor");
    }
}

/// Reads the log until `check` finds what it wants (bounded).
pub(crate) async fn log_until(
    provisioner: &LocalProvisioner,
    app: &str,
    check: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + BOOT;
    loop {
        let lines = whole_log(provisioner, app).await;
        if check(&lines) {
            return lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log never matched: {lines:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A provisioner running one chatty preview named `app`.
pub(crate) async fn chatty_preview(app: &str) -> LocalProvisioner {
    let provisioner = LocalProvisioner::start_with("node server.js", Some(INSTALL), &[])
        .await
        .expect("start");
    provisioner
        .push(
            app,
            &[("server.js", CHATTY_SERVER), ("package.json", PACKAGE_JSON)],
        )
        .await
        .expect("push");
    let (status, body) = provisioner
        .call(
            Method::POST,
            &format!("/v1/apps/{app}/provision-preview"),
            None,
        )
        .await
        .expect("provision");
    assert_eq!(status, 200, "{body}");
    provisioner
}

pub(crate) fn has(lines: &[(String, String)], source: &str, text: &str) -> bool {
    lines
        .iter()
        .any(|(line_source, line)| line_source == source && line.contains(text))
}

#[tokio::test]
async fn the_log_shows_install_and_dev_server_output_follows_live_and_resumes_without_gaps() {
    // Arrange: a preview whose install and dev server print.
    let provisioner = chatty_preview("chatty").await;

    // Act and assert: both streams of the install, the banner, the daemon's notes.
    let lines = log_until(&provisioner, "chatty", |lines| {
        has(lines, "dev_server", "chatty dev server listening on")
            && has(lines, "daemon", "answers HTTP")
    })
    .await;
    assert!(has(&lines, "install", "install step one"), "{lines:#?}");
    assert!(has(&lines, "install", "install step two"), "{lines:#?}");
    assert!(
        has(&lines, "daemon", "installing dependencies"),
        "{lines:#?}"
    );
    let banner = lines
        .iter()
        .position(|(_, text)| text.contains("chatty dev server listening"))
        .unwrap();
    let installed = lines
        .iter()
        .position(|(_, text)| text.contains("install step one"))
        .unwrap();
    assert!(installed < banner, "in the order printed: {lines:#?}");

    // The stream starts with the whole kept log, then follows live.
    let mut stream = open_stream(&provisioner, "chatty", None).await;
    let mut buffer = String::new();
    let first = read_events(&mut stream, &mut buffer, lines.len(), BOOT).await;
    let say = |text: &'static str| {
        let provisioner = &provisioner;
        async move {
            provisioner
                .visit("chatty", &format!("/say?text={text}"), "*/*")
                .await
                .expect("say");
        }
    };
    say("live-one").await;
    let live = read_events(&mut stream, &mut buffer, 1, BOOT).await;
    assert_eq!(
        (live[0].source.as_str(), live[0].text.as_str()),
        ("dev_server", "said: live-one")
    );
    let last_seen = live[0].id;
    drop(stream);

    // Lines printed while no one follows arrive on resumption, once each.
    say("while-away-one").await;
    say("while-away-two").await;
    let mut resumed = open_stream(&provisioner, "chatty", Some(last_seen)).await;
    let mut buffer = String::new();
    let after = read_events(&mut resumed, &mut buffer, 2, BOOT).await;
    let texts: Vec<&str> = after.iter().map(|event| event.text.as_str()).collect();
    assert_eq!(texts, ["said: while-away-one", "said: while-away-two"]);
    let ids: Vec<u64> = first
        .iter()
        .chain(&live)
        .chain(&after)
        .map(|event| event.id)
        .collect();
    let consecutive: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(
        ids, consecutive,
        "no gap and no repeat across the resumption"
    );
}

#[tokio::test]
async fn no_secret_reaches_the_log_when_the_app_prints_its_whole_environment() {
    // Arrange
    let provisioner = chatty_preview("leaky").await;

    // Act: the app prints its environment; the log gets it.
    let lines = log_until(&provisioner, "leaky", |lines| {
        has(lines, "dev_server", "environment: {")
    })
    .await;

    // Assert: neither the app's sync token nor the operator key is in it.
    let token_file = provisioner.data_dir().join("previews/leaky/token");
    let token = std::fs::read_to_string(&token_file).expect("the preview's token");
    let token = token.trim();
    assert!(
        token.starts_with("st1.leaky."),
        "a real token: {token_file:?}"
    );
    let whole: String = lines
        .iter()
        .map(|(_, text)| text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let digest_part = token.rsplit('.').next().unwrap();
    for secret in [token, digest_part, provisioner.api_key()] {
        assert!(!whole.contains(secret), "a secret is in the log");
    }
    assert!(whole.contains("\"PORT\""), "the environment was printed");
}
