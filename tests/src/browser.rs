//! Running a script of `tests/browser/` (playwright-core driving Debian's
//! Chromium) and reading the JSON summary it prints on its last line.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::npm_apps::workspace_root;

/// Runs `node <script>` in `tests/browser` with `env` (and `CHROMIUM`),
/// bounded; fails with its output unless it exits 0 with a JSON last line.
pub async fn run_script(
    script: &str,
    env: &[(&str, String)],
    bound: Duration,
) -> anyhow::Result<Value> {
    let browser_dir = workspace_root().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    anyhow::ensure!(
        Path::new(&chromium).is_file(),
        "{chromium} is missing; scripts/test.sh installs Debian's chromium"
    );
    anyhow::ensure!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing; run `npm ci` there (scripts/test.sh does)"
    );
    let run = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(&browser_dir)
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(bound, run)
        .await
        .with_context(|| format!("{script} did not finish within {bound:?}"))?
        .context("failed to run node")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "{script} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .with_context(|| format!("{script} printed no JSON summary:\n{stdout}"))
}
