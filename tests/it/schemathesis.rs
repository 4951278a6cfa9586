//! Schemathesis (from PyPI, pinned in `scripts/schemathesis.sh`) against a
//! real provisioner: every operation of `GET /v1/openapi.json` with
//! generated requests, valid and not, a few per operation; no answer is a
//! 5xx and each matches the document (status code, content type, headers,
//! schema). What it runs and what it leaves out, and why, is in
//! `tests/schemathesis/schemathesis.toml`. `scripts/test.sh` installs it;
//! the script installs it here too when it is missing.

use std::time::{Duration, Instant};

use preview_tests::npm_apps::workspace_root;
use preview_tests::provisioner::TestProvisioner;

/// The app whose sync token the daemon's routes are called with.
const SYNC_APP: &str = "schemathesis-sync";
/// The run takes under a minute on two busy cores; the install, when the
/// venv is missing, a little more.
const BOUND: Duration = Duration::from_secs(240);

async fn schemathesis_command() -> String {
    let output = tokio::process::Command::new("bash")
        .arg(workspace_root().join("scripts/schemathesis.sh"))
        .output()
        .await
        .expect("bash runs");
    assert!(
        output.status.success(),
        "scripts/schemathesis.sh could not install schemathesis (python3 with venv is needed): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a UTF-8 path")
        .trim()
        .to_owned()
}

/// `name="value"` of the first `<testsuite` element of a JUnit report.
fn suite_count(report: &str, name: &str) -> Option<u64> {
    let suite = &report[report.find("<testsuite ")?..];
    let suite = &suite[..suite.find('>')?];
    let value = &suite[suite.find(&format!(" {name}=\""))? + name.len() + 3..];
    value[..value.find('"')?].parse().ok()
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    // Arrange
    let command = schemathesis_command().await;
    let mut provisioner = TestProvisioner::spawn().await.expect("spawn");
    let sync_token = provisioner
        .mint_sync_token(SYNC_APP)
        .await
        .expect("a sync token");
    let work = tempfile::tempdir().expect("tempdir"); // Hypothesis keeps its database in the working dir.
    let junit = work.path().join("junit.xml");
    let started = Instant::now();

    // Act
    let run = tokio::process::Command::new(&command)
        .arg("--config-file")
        .arg(workspace_root().join("tests/schemathesis/schemathesis.toml"))
        .args([
            "run",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
        ])
        .arg(&junit)
        .arg(format!("{}/v1/openapi.json", provisioner.base_url()))
        .env("PROVISIONER_API_KEY", provisioner.api_key())
        .env("SYNC_APP", SYNC_APP)
        .env("SYNC_TOKEN", &sync_token)
        .current_dir(work.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BOUND, run)
        .await
        .expect("schemathesis finishes within its bound")
        .expect("schemathesis runs");
    let elapsed = started.elapsed();
    // Previews it provisioned stop with the server; a handler that hung or
    // panicked would hold the shutdown.
    let exit = provisioner.terminate(Duration::from_secs(30)).await;

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found answers that are 5xx or not as documented:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = std::fs::read_to_string(&junit).expect("the JUnit report");
    let tests = suite_count(&report, "tests").expect("a test count");
    assert!(tests >= 30, "{tests} operations tested:\n{report}");
    assert_eq!(suite_count(&report, "failures"), Some(0), "{report}");
    assert_eq!(suite_count(&report, "errors"), Some(0), "{report}");
    assert!(
        exit.is_ok_and(|status| status.success()),
        "the provisioner did not stop cleanly after the run"
    );
    println!("schemathesis: {tests} operations in {elapsed:?}");
}

#[test]
fn the_report_reader_reads_the_suite_counts() {
    let report = r#"<?xml version="1.0"?><testsuites><testsuite name="schemathesis" tests="34" failures="2" errors="0" skipped="1"><testcase name="GET /"/></testsuite></testsuites>"#;

    assert_eq!(suite_count(report, "tests"), Some(34));
    assert_eq!(suite_count(report, "failures"), Some(2));
    assert_eq!(suite_count(report, "errors"), Some(0));
    assert_eq!(suite_count("<testsuites/>", "tests"), None);
}
