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

/// A real app's project, pushed and served: what the browser script edits.
struct Scenario<'a> {
    app: &'a str,
    file: &'a str,
    shown: &'a str,
    break_find: &'a str,
    break_replace: &'a str,
    /// Where a `throw` goes for the runtime-error steps (`""`: left out).
    throw_before: &'a str,
}

/// A provisioner (local driver, the tests' package cache) whose previews
/// let `editor_origin` frame them.
async fn provisioner(editor_origin: &str) -> LocalProvisioner {
    let cache = shared_package_cache().expect("package cache");
    LocalProvisioner::start_with_env(
        "auto",
        None,
        &["--local-package-cache", cache.to_str().expect("UTF-8 path")],
        &[("PREVIEW_EDITOR_ORIGINS", editor_origin)],
    )
    .await
    .expect("start")
}

async fn push_and_serve(provisioner: &LocalProvisioner, app: &str, project: &std::path::Path) {
    provisioner.push_dir(app, project).await.expect("push");
    if let Err(error) = provisioner
        .visit_until(app, "/", Duration::from_secs(420), |status, _| {
            status == 200
        })
        .await
    {
        panic!("{error:#}\ndaemon log:\n{}", daemon_log(provisioner, app));
    }
}

/// Runs `tests/browser/render.mjs` on a served app; answers its summary.
async fn browse(
    provisioner: &LocalProvisioner,
    project: &std::path::Path,
    editor_origin: &str,
    scenario: &Scenario<'_>,
) -> serde_json::Value {
    let original = std::fs::read_to_string(project.join(scenario.file)).expect("file");
    let env = [
        ("PREVIEW_URL", provisioner.preview_url(scenario.app)),
        ("API_URL", provisioner.base_url()),
        ("API_KEY", provisioner.api_key().to_owned()),
        ("APP_ID", scenario.app.to_owned()),
        ("FILE", scenario.file.to_owned()),
        ("ORIGINAL", original),
        ("SHOWN", scenario.shown.to_owned()),
        ("BREAK_FIND", scenario.break_find.to_owned()),
        ("BREAK_REPLACE", scenario.break_replace.to_owned()),
        ("THROW_BEFORE", scenario.throw_before.to_owned()),
        ("EDITOR_ORIGIN", editor_origin.to_owned()),
    ];
    let summary = match run_script("render.mjs", &env, Duration::from_secs(420)).await {
        Ok(summary) => summary,
        Err(error) => panic!(
            "{error:#}\ndaemon log:\n{}",
            daemon_log(provisioner, scenario.app)
        ),
    };
    println!("{}: {summary}", scenario.app);
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_is_answered_with_what_the_preview_shows_and_the_editor_hears_it() {
    // Arrange
    let project = npm_apps::vite_app("react", APP).expect("create-vite template");
    let editor_origin = format!("http://editor.localhost:{}", free_port());
    let provisioner = provisioner(&editor_origin).await;
    push_and_serve(&provisioner, APP, project.path()).await;
    the_log_shows_the_install_and_the_banner_and_no_secret(&provisioner).await;

    // Act
    let scenario = Scenario {
        app: APP,
        file: FILE,
        shown: "Get started",
        break_find: "return (",
        break_replace: "return ((",
        throw_before: "return (",
    };
    let summary = browse(&provisioner, project.path(), &editor_origin, &scenario).await;

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

/// Next.js (create-next-app's App Router template): a syntax error in the
/// page gives `state: error` with its file and line, the fix `rendered`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_app_reports_a_syntax_error_with_its_file_and_line_and_renders_the_fix() {
    // Arrange
    let app = "render-next";
    let project = npm_apps::next_app(app).expect("create-next-app template");
    let editor_origin = format!("http://editor.localhost:{}", free_port());
    let provisioner = provisioner(&editor_origin).await;
    push_and_serve(&provisioner, app, project.path()).await;

    // Act
    let scenario = Scenario {
        app,
        file: "app/page.js",
        shown: "To get started, edit the",
        break_find: "return (",
        break_replace: "return ((",
        throw_before: "",
    };
    let summary = browse(&provisioner, project.path(), &editor_origin, &scenario).await;

    // Assert (the script checked the answers: error at the file with a
    // line, then rendered with the fix on screen)
    assert_eq!(
        summary["syntax_error"]["error"]["file"], "app/page.js",
        "{summary}"
    );
    assert!(
        summary["syntax_error"]["error"]["line"].is_u64(),
        "{summary}"
    );
    assert!(summary["fix_ms"].is_u64(), "{summary}");
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

fn daemon_log(provisioner: &LocalProvisioner, app: &str) -> String {
    let log = std::fs::read_to_string(
        provisioner
            .data_dir()
            .join("previews")
            .join(app)
            .join("daemon.log"),
    )
    .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(60).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}
