//! A preview's own code, run by `sync-daemon --sandbox`, reads nothing of
//! the machine but its own files: not the daemon's token or state, not the
//! provisioner's database, not another directory, not another process.

use std::time::Duration;

use preview_tests::daemon::{Target, TestDaemon};
use preview_tests::provisioner::TestProvisioner;
use serde_json::json;

use crate::files_api::written;

/// A dev server that tries what a hostile app would: `/read?<path>` answers
/// the file's bytes or `DENIED <reason>`, `/write?<path>` tries to create it,
/// `/cwd` the directory it believes it runs in.
pub const HOSTILE_SERVER: &str = r#"
const http = require('http');
const fs = require('fs');
http.createServer((request, response) => {
  const [route, query] = request.url.split('?');
  const path = decodeURIComponent(query || '');
  try {
    if (route === '/read') { response.end(fs.readFileSync(path)); return; }
    if (route === '/write') { fs.writeFileSync(path, 'planted'); response.end('WROTE'); return; }
    if (route === '/cwd') { response.end(process.cwd()); return; }
    response.end('ok');
  } catch (error) {
    response.end('DENIED ' + error.code);
  }
}).listen(Number(process.env.PORT), '127.0.0.1');
"#;

#[tokio::test]
async fn an_app_in_the_sandbox_cannot_read_the_token_the_state_the_database_or_other_processes() {
    // Arrange: a provisioner, a secret beside the synced tree, and a daemon
    // running the hostile dev server sandboxed.
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let batch = json!({"changes": [
        {"path": "server.js", "content": HOSTILE_SERVER},
        {"path": "package.json", "content": "{}"},
    ]});
    written(provisioner.batch("shop", &batch).await).await;
    let token = provisioner.mint_sync_token("shop").await.unwrap();
    let temp = tempfile::tempdir().unwrap();
    let secret = temp.path().join("other-app-token");
    std::fs::write(&secret, "st1.other.secret").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let target = Target {
        server: provisioner.base_url(),
        app: "shop".to_owned(),
        token,
    };
    let args = [
        "--sandbox",
        "--exec",
        "node server.js",
        "--install",
        "true",
        "--port",
        port.as_str(),
    ];
    let daemon = TestDaemon::spawn(&target, &temp.path().join("app"), &args, temp.path()).unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let ask = |route: &str, path: &str| {
        let url = format!("http://127.0.0.1:{port}/{route}?{}", urlencode(path));
        let client = client.clone();
        async move {
            // Only the app's own answers count, not the gateway's "not ready yet".
            let response = client.get(url).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.text().await.ok()
        }
    };
    let mut up = false;
    for _ in 0..300 {
        if ask("cwd", "").await.is_some() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the dev server never answered:\n{}", daemon.log());

    // Act and assert
    let daemon_pid = daemon.pid().expect("running");
    let forbidden = [
        secret.display().to_string(),
        temp.path()
            .join(".app.sync/index.json")
            .display()
            .to_string(),
        provisioner
            .data_dir()
            .join("provisioner.sqlite3")
            .display()
            .to_string(),
        format!("/proc/{daemon_pid}/environ"),
        format!("/proc/{daemon_pid}/cmdline"),
        format!("/proc/{}/environ", std::process::id()),
    ];
    for path in &forbidden {
        let answer = ask("read", path).await.unwrap_or_default();
        assert!(
            answer.starts_with("DENIED"),
            "{path} was readable: {answer:?}"
        );
    }
    let planted = temp.path().join("planted");
    let wrote = ask("write", &planted.display().to_string())
        .await
        .unwrap_or_default();
    assert!(wrote.starts_with("DENIED"), "{wrote}");
    assert!(!planted.exists());
    assert_eq!(ask("cwd", "").await.as_deref(), Some("/app"));
    assert_eq!(
        ask("read", "/app/package.json").await.as_deref(),
        Some("{}"),
        "its own files stay readable"
    );
    let own = ask("write", "/app/made-by-the-app.txt")
        .await
        .unwrap_or_default();
    assert_eq!(own, "WROTE");
    assert!(temp.path().join("app/made-by-the-app.txt").exists());
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
