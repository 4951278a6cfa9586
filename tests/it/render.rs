//! What the preview shows, end to end: a real Vite React app from npm,
//! pushed unmodified through the local driver, opened in Chromium inside an
//! editor page (`tests/browser/render.mjs`). A syntax error and an exception
//! thrown on render come back as the write's `?wait=rendered` answer and as
//! the preview's `render`, their fixes as `rendered`, and the editor page
//! receives the page script's `postMessage` events. The same preview's log
//! shows `npm install`'s output and Vite's banner, labelled, with no secret.

use std::time::Duration;

use preview_tests::binaries::free_port;
use preview_tests::browser::run_script;
use preview_tests::local_preview::LocalProvisioner;
use preview_tests::npm_apps::{self, shared_package_cache};

use crate::logs::{has, log_until};

const APP: &str = "render-vite";
const FILE: &str = "src/App.jsx";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_is_answered_with_what_the_preview_shows_and_the_editor_hears_it() {
    // Arrange
    let project = npm_apps::vite_app("react", APP).expect("create-vite template");
    let cache = shared_package_cache().expect("package cache");
    let editor_origin = format!("http://editor.localhost:{}", free_port());
    let provisioner = LocalProvisioner::start_with_env(
        "auto",
        None,
        &["--local-package-cache", cache.to_str().expect("UTF-8 path")],
        &[("PREVIEW_EDITOR_ORIGINS", &editor_origin)],
    )
    .await
    .expect("start");
    let original = std::fs::read_to_string(project.path().join(FILE)).expect("file");
    provisioner
        .push_dir(APP, project.path())
        .await
        .expect("push");
    if let Err(error) = provisioner
        .visit_until(APP, "/", Duration::from_secs(420), |status, _| {
            status == 200
        })
        .await
    {
        panic!("{error:#}\ndaemon log:\n{}", daemon_log(&provisioner));
    }
    the_log_shows_the_install_and_the_banner_and_no_secret(&provisioner).await;

    // Act
    let env = [
        ("PREVIEW_URL", provisioner.preview_url(APP)),
        ("API_URL", provisioner.base_url()),
        ("API_KEY", provisioner.api_key().to_owned()),
        ("APP_ID", APP.to_owned()),
        ("FILE", FILE.to_owned()),
        ("ORIGINAL", original),
        ("SHOWN", "Get started".to_owned()),
        ("BREAK_FIND", "return (".to_owned()),
        ("BREAK_REPLACE", "return ((".to_owned()),
        ("THROW_BEFORE", "return (".to_owned()),
        ("EDITOR_ORIGIN", editor_origin.clone()),
    ];
    let summary = match run_script("render.mjs", &env, Duration::from_secs(420)).await {
        Ok(summary) => summary,
        Err(error) => panic!("{error:#}\ndaemon log:\n{}", daemon_log(&provisioner)),
    };
    println!("{summary}");

    // Assert (the script checked each answer; these are its figures)
    assert_eq!(summary["syntax_error"]["error"]["file"], FILE, "{summary}");
    assert!(
        summary["syntax_error_ms"]
            .as_u64()
            .is_some_and(|ms| ms < 5_000),
        "the syntax error was known within 5 s of the save: {summary}"
    );
    assert!(
        summary["runtime_error"]["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("render-boom")),
        "{summary}"
    );
    assert_eq!(summary["runtime_error"]["error"]["file"], FILE, "{summary}");
    assert_eq!(
        summary["runtime_error"]["error"]["line"], summary["throw_line"],
        "the source line of the throw, through the source map: {summary}"
    );
    assert!(summary["messages"].as_u64().unwrap_or(0) >= 3, "{summary}");
}

/// The log of a real install and dev server: npm's summary labelled
/// `install`, Vite's `Local:` line labelled `dev_server`, in that order,
/// and neither the preview's sync token nor the operator key anywhere.
async fn the_log_shows_the_install_and_the_banner_and_no_secret(provisioner: &LocalProvisioner) {
    let lines = log_until(provisioner, APP, |lines| {
        has(lines, "install", "added ") && has(lines, "dev_server", "Local:")
    })
    .await;
    let position = |source: &str, text: &str| {
        lines
            .iter()
            .position(|(line_source, line)| line_source == source && line.contains(text))
    };
    assert!(
        position("install", "added ") < position("dev_server", "Local:"),
        "installed before the banner: {lines:#?}"
    );
    assert!(
        has(&lines, "dev_server", "ready in"),
        "Vite's banner: {lines:#?}"
    );
    let token = std::fs::read_to_string(
        provisioner
            .data_dir()
            .join("previews")
            .join(APP)
            .join("token"),
    )
    .expect("the preview's token");
    let token = token.trim();
    assert!(token.starts_with("st1."), "a real token");
    let digest = token.rsplit('.').next().expect("digest");
    for (_, text) in &lines {
        for secret in [token, digest, provisioner.api_key()] {
            assert!(!text.contains(secret), "a secret is in the log");
        }
    }
}

fn daemon_log(provisioner: &LocalProvisioner) -> String {
    let log = std::fs::read_to_string(
        provisioner
            .data_dir()
            .join("previews")
            .join(APP)
            .join("daemon.log"),
    )
    .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(60).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}
