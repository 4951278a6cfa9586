//! The whole chain in a real browser: the template app pushed through the
//! files API, run by the local driver (sync-daemon + Vite), shown in an
//! iframe in Debian's Chromium through the edge proxy. The browser side is
//! `tests/browser/hmr.mjs` (playwright-core); `scripts/test.sh` installs
//! Chromium and that script's packages.

use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};

use preview_tests::local_preview::LocalProvisioner;
use preview_tests::npm_apps::workspace_root;
use sync_protocol::PreviewState;

/// Edits timed in the test; the benchmark (`bench/local-preview.sh`) runs more.
const EDITS: &str = "10";

/// Every file of the template app, as batch changes (without `node_modules/`).
fn template_changes() -> anyhow::Result<Vec<Value>> {
    let root = workspace_root().join("runtime-image/template");
    let mut changes = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)
            .with_context(|| format!("failed to list `{}`", dir.display()))?
        {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or_default();
            if name == "node_modules" || name == "dist" {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(&root)?
                .to_str()
                .context("non-UTF-8 path")?
                .to_owned();
            let content = std::fs::read_to_string(&path)
                .with_context(|| format!("failed to read `{}`", path.display()))?;
            changes.push(json!({ "path": relative, "content": content }));
        }
    }
    Ok(changes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_update_in_chromium_then_wake_on_visit() {
    // Arrange
    // The idle timeout outlasts Chromium's start on a loaded machine (over
    // 6 s in one CI run): a preview stopped before the browser's first
    // request restarts under the loading page, and Vite's client reloads it.
    let provisioner = LocalProvisioner::start_with(
        "npm run dev",
        None,
        &["--idle-timeout", "20s", "--loop-interval", "1s"],
    )
    .await
    .expect("start");
    let changes = template_changes().expect("template");
    let (status, body) = provisioner
        .call(
            Method::POST,
            "/v1/apps/web/files",
            Some(json!({ "changes": changes })),
        )
        .await
        .expect("push");
    assert_eq!(status, 200, "{body}");
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/web/provision-preview", None)
        .await
        .expect("provision");
    assert_eq!(status, 200, "{body}");
    // npm install runs inside the preview first.
    provisioner
        .visit_until("web", "/", Duration::from_secs(240), |status, body| {
            status == 200 && body.contains("/@vite/client")
        })
        .await
        .expect("the Vite dev server answers through the proxy");

    // Act: the browser script edits, watches, waits for the idle stop and visits again.
    let result = preview_tests::browser::run_script(
        "hmr.mjs",
        &[
            ("PREVIEW_URL", provisioner.preview_url("web")),
            ("API_URL", provisioner.base_url()),
            ("API_KEY", provisioner.api_key().to_owned()),
            ("APP_ID", "web".to_owned()),
            ("EDITS", EDITS.to_owned()),
            ("WAKE", "1".to_owned()),
        ],
        Duration::from_secs(400),
    )
    .await
    .expect("the browser run");

    // Assert
    assert_eq!(result["hot_updates_without_reload"], true, "{result}");
    assert_eq!(
        result["hmr_ms"].as_array().map(Vec::len),
        Some(10),
        "{result}"
    );
    assert_eq!(result["woke"], true, "{result}");
    assert!(
        result["wake_loading_page_ms"].is_u64(),
        "a browser saw the loading page: {result}"
    );
    println!(
        "edit -> browser updated: p50 {} ms, p95 {} ms over {EDITS} edits; wake on visit: loading page {} ms, app first byte {} ms, rendered {} ms",
        result["hmr_p50_ms"],
        result["hmr_p95_ms"],
        result["wake_loading_page_ms"],
        result["wake_first_byte_ms"],
        result["wake_rendered_ms"]
    );
    assert_eq!(
        provisioner.preview("web").await.expect("preview").state,
        PreviewState::Running
    );
}
