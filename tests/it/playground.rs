//! The playground page at `/`: how it is served (content types, security
//! headers, no secret in the page, the JSON 404 for an unknown asset), that
//! the checked-in bundle is what its sources build to, and the page itself
//! in Chromium (`tests/browser/playground.mjs`) against a local preview of
//! the template app: an edit saved in the page's editor shows in its preview
//! frame and as the revision on screen, an error in the page's list, the
//! list's restart (the log view shows the dev server starting again), a
//! private link minted in the page letting a new tab into the preview made
//! private, and the list's stop and wake actions.

use std::path::Path;
use std::time::Duration;

use preview_tests::browser::run_script;
use preview_tests::local_preview::LocalProvisioner;
use preview_tests::npm_apps::{shared_package_cache, workspace_root};
use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use serde_json::Value;

const APP: &str = "playground";

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_page_is_served_at_the_root_uncached_with_a_policy_and_no_secret() {
    let provisioner = TestProvisioner::spawn().await.expect("spawn");

    // Act: a browser's request carries no key.
    let response = provisioner
        .client()
        .get(format!("{}/", provisioner.base_url()))
        .send()
        .await
        .expect("GET /");

    // Assert
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    let policy = header(&response, "content-security-policy").to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "frame-src ",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let page = response.text().await.expect("body");
    assert!(page.contains("/playground/playground.js"), "{page}");
    assert!(
        !page.contains(provisioner.api_key()),
        "the page must not carry the operator key"
    );
}

#[tokio::test]
async fn the_assets_have_their_content_types_and_an_unknown_one_is_a_json_404() {
    let provisioner = TestProvisioner::spawn().await.expect("spawn");
    let get = |path: &str| {
        provisioner
            .client()
            .get(format!("{}{path}", provisioner.base_url()))
            .send()
    };

    for (path, content_type) in [
        (
            "/playground/playground.js",
            "text/javascript; charset=utf-8",
        ),
        ("/playground/playground.css", "text/css; charset=utf-8"),
    ] {
        let response = get(path).await.expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert!(!response.bytes().await.expect("body").is_empty(), "{path}");
    }

    for path in ["/playground/missing.js", "/playground/nested/../api-key"] {
        let response = get(path).await.expect("unknown asset");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(header(&response, "content-type"), "application/json");
        let body: Value = response.json().await.expect("JSON error");
        let code = body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            code == "asset_not_found" || code == "route_not_found",
            "{path}: {body}"
        );
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let response = get("/playground/index.php").await.expect("unknown asset");
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "asset_not_found", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("playground.js"),
        "the message lists the assets: {body}"
    );
}

/// Every file of `dir`, by name, with its bytes.
fn files_of(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read"))
        })
        .collect()
}

#[tokio::test]
async fn the_checked_in_bundle_is_what_its_sources_build_to() {
    let playground = workspace_root().join("provisioner/playground");
    assert!(
        playground.join("node_modules/esbuild").is_dir(),
        "provisioner/playground/node_modules is missing; run `npm ci` there (scripts/test.sh does)"
    );
    let fresh = tempfile::tempdir().expect("tempdir");

    // Act
    let build = tokio::process::Command::new("node")
        .arg("build.mjs")
        .arg(fresh.path())
        .current_dir(&playground)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), build)
        .await
        .expect("the build finishes within 2 minutes")
        .expect("node runs");

    // Assert
    assert!(
        output.status.success(),
        "build failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let built = files_of(fresh.path());
    let checked_in = files_of(&playground.join("dist"));
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        checked_in.keys().collect::<Vec<_>>(),
        "dist/ lists other files than a build makes"
    );
    for (name, bytes) in &built {
        assert!(
            checked_in[name] == *bytes,
            "provisioner/playground/dist/{name} is stale: run `npm run build` in provisioner/playground and commit dist/"
        );
    }
}

/// A local provisioner running `npm run dev` for `app`, pushed from `dir`
/// (a Vite app), once its dev server answers through the proxy.
pub(crate) async fn vite_preview(app: &str, dir: &Path) -> LocalProvisioner {
    let cache = shared_package_cache().expect("package cache");
    let provisioner = LocalProvisioner::start_with(
        "npm run dev",
        None,
        &["--local-package-cache", cache.to_str().expect("UTF-8 path")],
    )
    .await
    .expect("start");
    provisioner.push_dir(app, dir).await.expect("push");
    provisioner
        .visit_until(app, "/", Duration::from_secs(240), |status, body| {
            status == 200 && body.contains("/@vite/client")
        })
        .await
        .expect("the Vite dev server answers through the proxy");
    provisioner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_saved_in_the_playground_shows_in_its_frame_and_as_the_revision_on_screen() {
    // Arrange
    let provisioner = vite_preview(APP, &workspace_root().join("runtime-image/template")).await;
    let new_text = "Edited in the playground";

    // Act
    let summary = run_script(
        "playground.mjs",
        &[
            (
                "PLAYGROUND_URL",
                format!("{}/#key={}", provisioner.base_url(), provisioner.api_key()),
            ),
            ("APP_ID", APP.to_owned()),
            ("FILE", "src/message.js".to_owned()),
            ("NEW_TEXT", new_text.to_owned()),
        ],
        Duration::from_secs(300),
    )
    .await
    .expect("the browser run");

    // Assert
    assert_eq!(summary["problems"], serde_json::json!([]), "{summary}");
    assert_eq!(
        summary["fragment_after_load"], "",
        "the key left the address bar: {summary}"
    );
    assert_eq!(
        summary["first_text"], "Hello from your preview",
        "{summary}"
    );
    let saved = summary["saved_revision"].as_u64().expect("a revision");
    assert_eq!(summary["broken_revision"], saved + 1, "{summary}");
    assert_eq!(summary["fixed_revision"], saved + 2, "{summary}");
    assert!(
        summary["error_listed"]
            .as_str()
            .is_some_and(|text| text.contains("src/message.js")),
        "{summary}"
    );
    assert!(
        summary["log_lines"].as_u64().is_some_and(|lines| lines > 0),
        "the page follows the preview's log: {summary}"
    );
    assert_eq!(summary["app_state"], "running", "{summary}");
    let starts = summary["starts_before_restart"].as_u64().unwrap_or(0);
    assert!(starts >= 1, "the log view shows the first start: {summary}");
    assert!(
        summary["starts_after_restart"].as_u64() > Some(starts),
        "{summary}"
    );
    assert_eq!(summary["private_status"], 200, "{summary}");
    assert!(
        summary["private_link"]
            .as_str()
            .is_some_and(|url| url.starts_with(&format!(
                "{}__preview/access?token=",
                provisioner.preview_url(APP)
            ))),
        "{summary}"
    );
    assert_eq!(
        summary["plain_visit_status"], 401,
        "a private preview refuses a tab without the link: {summary}"
    );
    assert_eq!(
        summary["link_visit_text"],
        format!("{new_text} again"),
        "{summary}"
    );
    assert_eq!(summary["public_status"], 200, "{summary}");
    assert!(
        ["stopped", "suspended"].contains(&summary["stopped_state"].as_str().unwrap_or_default()),
        "{summary}"
    );
    assert_eq!(summary["woken_state"], "running", "{summary}");
    let (_, preview) = provisioner
        .call(
            reqwest::Method::GET,
            &format!("/v1/apps/{APP}/preview"),
            None,
        )
        .await
        .expect("preview");
    assert_eq!(preview["render"]["revision"], saved + 2, "{preview}");
    assert_eq!(preview["render"]["state"], "rendered", "{preview}");
    println!(
        "playground: saved -> frame updated {} ms, -> shown as rendered {} ms",
        summary["frame_updated_ms"], summary["rendered_ms"]
    );
}
