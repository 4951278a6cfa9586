//! The TypeScript client (`clients/typescript`) in the workspace's suite:
//! its own tests, run by Node's test runner, start a real provisioner from
//! the binaries this build made and check the package (dist up to date,
//! what `npm pack` ships, an install into a fresh directory). Its
//! devDependencies are installed by `scripts/test.sh` (`npm ci`).

use std::time::Duration;

use anyhow::Context;

use preview_tests::binaries::{provisioner_binary, sync_daemon_binary};
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
