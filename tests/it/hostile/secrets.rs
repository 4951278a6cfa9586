//! What a preview on the local driver can reach of the operator's secrets:
//! nothing. `serve` runs every local preview in the sandbox (bubblewrap is
//! installed by the test script), and never takes the operator key on its
//! command line, where any process could read it.

use std::time::Duration;

use preview_tests::binaries::provisioner_binary;
use preview_tests::local_preview::LocalProvisioner;

use super::sandbox::{HOSTILE_SERVER, urlencode};

const BOOT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_local_preview_reads_neither_the_operator_key_nor_the_database_nor_any_token() {
    // Arrange: two apps; the hostile one is served through the edge proxy.
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("victim", "victim's page")
        .await
        .expect("victim");
    provisioner
        .push("thief", &[("server.js", HOSTILE_SERVER)])
        .await
        .expect("push");
    let (status, body) = provisioner
        .call(
            reqwest::Method::POST,
            "/v1/apps/thief/provision-preview",
            None,
        )
        .await
        .expect("provision");
    assert_eq!(status, 200, "{body}");
    provisioner
        .visit_until("thief", "/cwd", BOOT, |status, _| status == 200)
        .await
        .expect("the hostile app answers");

    // Act and assert
    let data_dir = provisioner.data_dir().to_path_buf();
    std::fs::write(data_dir.join("api-key"), provisioner.api_key()).expect("a kept key");
    let previews = data_dir.join("previews");
    let victim_daemon = provisioner.daemon_pid("victim").expect("victim daemon");
    let forbidden = [
        data_dir.join("api-key").display().to_string(),
        data_dir.join("provisioner.sqlite3").display().to_string(),
        previews.join("victim/token").display().to_string(),
        previews.join("thief/token").display().to_string(),
        previews
            .join("victim/app/message.txt")
            .display()
            .to_string(),
        format!("/proc/{victim_daemon}/environ"),
        "../token".to_owned(),
    ];
    for path in &forbidden {
        let (status, answer) = provisioner
            .visit("thief", &format!("/read?{}", urlencode(path)), "*/*")
            .await
            .expect("visit");
        assert_eq!(status, 200, "{answer}");
        assert!(
            answer.starts_with("DENIED"),
            "{path} was readable: {answer:?}"
        );
    }
    let (_, cwd) = provisioner
        .visit("thief", "/cwd", "*/*")
        .await
        .expect("cwd");
    assert_eq!(cwd, "/app", "the data dir's path is not shown to the app");
}

#[tokio::test]
async fn serve_refuses_the_operator_key_on_its_command_line() {
    let data_dir = tempfile::tempdir().expect("data dir");
    let output = tokio::process::Command::new(provisioner_binary().expect("binary"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            "visible-to-all",
        ])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("PROVISIONER_API_KEY")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("it stops at once")
        .expect("it runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PROVISIONER_API_KEY"), "{stderr}");
    assert!(!data_dir.path().join("api-key").exists(), "nothing started");
}

#[tokio::test]
async fn a_destroyed_previews_sync_token_reads_nothing() {
    // Arrange: a running preview and the token its daemon holds.
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("gone", "soon gone")
        .await
        .expect("provision");
    let token = std::fs::read_to_string(provisioner.data_dir().join("previews/gone/token"))
        .expect("the daemon's token");
    let manifest = || {
        reqwest::Client::new()
            .get(format!("{}/v1/apps/gone/files", provisioner.base_url()))
            .bearer_auth(token.trim())
            .send()
    };
    assert_eq!(manifest().await.expect("manifest").status(), 200);

    // Act
    let (status, body) = provisioner
        .call(reqwest::Method::DELETE, "/v1/apps/gone/preview", None)
        .await
        .expect("delete");

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(manifest().await.expect("manifest").status(), 401);
}

#[tokio::test]
async fn minting_with_rotate_revokes_every_earlier_token_of_the_app_only() {
    // Arrange
    let provisioner = preview_tests::provisioner::TestProvisioner::spawn()
        .await
        .expect("provisioner");
    let earlier = [
        provisioner.mint_sync_token("shop").await.expect("first"),
        provisioner.mint_sync_token("shop").await.expect("second"),
    ];
    let other_app = provisioner.mint_sync_token("cart").await.expect("other");

    // Act
    let response = provisioner
        .request(
            reqwest::Method::POST,
            "/v1/apps/shop/sync-token?rotate=true",
        )
        .send()
        .await
        .expect("rotate");
    assert_eq!(response.status(), 201);
    let rotated: sync_protocol::SyncTokenResponse = response.json().await.expect("token");

    // Assert
    let files = |app: &str, token: &str| {
        provisioner
            .request_as(
                reqwest::Method::GET,
                &format!("/v1/apps/{app}/files"),
                token,
            )
            .send()
    };
    for token in &earlier {
        assert_eq!(files("shop", token).await.expect("read").status(), 401);
    }
    assert_eq!(
        files("shop", &rotated.token).await.expect("read").status(),
        200
    );
    assert_eq!(files("cart", &other_app).await.expect("read").status(), 200);
}
