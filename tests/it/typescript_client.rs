//! The TypeScript client (`clients/typescript`) in the workspace's suite:
//! its own tests, run by Node's test runner, start a real provisioner from
//! the binaries this build made and check the package (dist up to date,
//! what `npm pack` ships, an install into a fresh directory). Its
//! devDependencies are installed by `scripts/test.sh` (`npm ci`). And the
//! README's integration example, run as written in Chromium.

use std::time::Duration;

use anyhow::Context;

use preview_tests::binaries::{provisioner_binary, sync_daemon_binary};
use preview_tests::browser::run_script;
use preview_tests::npm_apps::workspace_root;

/// The whole run, install checks included, on a busy machine.
const BOUND: Duration = Duration::from_secs(180);

#[tokio::test]
async fn the_typescript_client_passes_its_node_tests_against_a_real_provisioner() {
    let package = workspace_root().join("clients/typescript");
    assert!(
        package.join("node_modules/typescript").is_dir(),
        "clients/typescript/node_modules is missing; run `npm ci` there (scripts/test.sh does)"
    );
    // `npm test`, with the TAP reporter whose summary is read below.
    let mut files: Vec<String> = std::fs::read_dir(package.join("test"))
        .expect("clients/typescript/test")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("test/{name}"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let run = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=tap"])
        .args(&files)
        .current_dir(&package)
        .env(
            "PROVISIONER_BIN",
            provisioner_binary().expect("provisioner"),
        )
        .env(
            "SYNC_DAEMON_BIN",
            sync_daemon_binary().expect("sync-daemon"),
        )
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run)
        .await
        .with_context(|| format!("the client's tests did not finish within {BOUND:?}"))
        .expect("bounded")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the client's tests failed in clients/typescript:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The runner's summary: every test ran and passed, none skipped.
    let count = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("# {name} ")))
            .and_then(|value| value.trim().parse::<u32>().ok())
    };
    assert!(count("pass").unwrap_or(0) >= 20, "{stdout}");
    assert_eq!(count("fail"), Some(0), "{stdout}");
    assert_eq!(count("skipped"), Some(0), "{stdout}");
    assert_eq!(count("todo"), Some(0), "{stdout}");
}

/// The README's integration example, run as written in Chromium
/// (`tests/browser/readme-example.mjs`) against a local preview of the
/// template whose `src/main.js` shows `src/App.jsx`'s text: it saves,
/// provisions, frames the preview, waits for the edit to be on screen and
/// follows the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_integration_example_runs_as_written() {
    // Arrange: the givens the example names, an app that shows App.jsx.
    let app = "export const message = 'From the README example'\n";
    let edited = "export const message = 'Edited as the README says'\n";
    let template = workspace_root().join("runtime-image/template");
    let source = tempfile::tempdir().expect("tempdir");
    for name in [
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.js",
    ] {
        std::fs::copy(template.join(name), source.path().join(name)).expect("copy");
    }
    std::fs::create_dir(source.path().join("src")).expect("src");
    std::fs::copy(
        template.join("src/style.css"),
        source.path().join("src/style.css"),
    )
    .expect("copy");
    let main = std::fs::read_to_string(template.join("src/main.js")).expect("main.js");
    assert!(main.contains("from './message.js'"), "{main}");
    std::fs::write(
        source.path().join("src/main.js"),
        main.replace("from './message.js'", "from './App.jsx'")
            .replace("accept('./message.js'", "accept('./App.jsx'"),
    )
    .expect("main.js");
    std::fs::write(
        source.path().join("src/App.jsx"),
        "export const message = 'first'\n",
    )
    .expect("App.jsx");
    let package_json =
        std::fs::read_to_string(template.join("package.json")).expect("package.json");
    let provisioner = crate::playground::vite_preview("shop", source.path()).await;

    // Act
    let summary = run_script(
        "readme-example.mjs",
        &[
            (
                "BASE_URL",
                provisioner.base_url().trim_end_matches('/').to_owned(),
            ),
            ("API_KEY", provisioner.api_key().to_owned()),
            ("PACKAGE_JSON", package_json),
            ("APP_TEXT", app.to_owned()),
            ("EDITED_TEXT", edited.to_owned()),
        ],
        Duration::from_secs(300),
    )
    .await
    .expect("the browser run");

    // Assert
    assert!(summary["example_lines"].as_u64() <= Some(10), "{summary}");
    assert_eq!(summary["preview_state"], "running", "{summary}");
    assert_eq!(summary["render"]["outcome"], "rendered", "{summary}");
    assert_eq!(summary["detached"], true, "{summary}");
    assert_eq!(summary["frame_src"], summary["preview_url"], "{summary}");
    assert_eq!(
        summary["frame_text"], "Edited as the README says",
        "{summary}"
    );
    let console: Vec<&str> = summary["console"]
        .as_array()
        .expect("console")
        .iter()
        .filter_map(|line| line.as_str())
        .collect();
    assert!(
        !console
            .iter()
            .any(|line| line.starts_with("error:") || line.starts_with("pageerror:")),
        "{console:#?}"
    );
}
