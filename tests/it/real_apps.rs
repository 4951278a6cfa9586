//! Real apps, taken from the npm registry at test time and pushed
//! unmodified with `provisioner push` through the local driver and the edge
//! proxy, opened in Debian's Chromium (`tests/browser/real-app.mjs`): the
//! page renders, an edit shows in the open page without a reload (HMR over
//! the gateway's WebSocket), and a syntax error and its fix do not wedge the
//! preview. Installs share one package cache (`npm_apps`), so only the first
//! run downloads dependencies.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use preview_tests::browser::run_script;
use preview_tests::local_preview::LocalProvisioner;
use preview_tests::npm_apps::{self, shared_package_cache};

/// Bound for a cold install plus the dev server's first answer.
const FIRST_ANSWER: Duration = Duration::from_secs(420);

/// What the browser script edits in an app and what it expects to see.
struct Scenario<'a> {
    app: &'a str,
    file: &'a str,
    shown: &'a str,
    hot: bool,
    /// A replacement that breaks the file's syntax (`None`: append `)(`).
    breaks: Option<(&'a str, &'a str)>,
}

async fn provisioner() -> LocalProvisioner {
    let cache = shared_package_cache().expect("package cache");
    LocalProvisioner::start_with(
        "auto",
        None,
        &["--local-package-cache", cache.to_str().expect("UTF-8 path")],
    )
    .await
    .expect("start")
}

/// `provisioner push --app APP DIR`, as a user runs it.
async fn push(provisioner: &LocalProvisioner, app: &str, dir: &Path) {
    provisioner.push_dir(app, dir).await.expect("push");
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
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Waits until the preview answers 200 through the edge proxy.
async fn wait_until_served(provisioner: &LocalProvisioner, app: &str) {
    if let Err(error) = provisioner
        .visit_until(app, "/", FIRST_ANSWER, |status, _| status == 200)
        .await
    {
        panic!("{error:#}\ndaemon log:\n{}", daemon_log(provisioner, app));
    }
}

/// Runs the browser script on a pushed, served app; answers its summary.
async fn browse(provisioner: &LocalProvisioner, project: &Path, scenario: &Scenario<'_>) -> Value {
    let original = std::fs::read_to_string(project.join(scenario.file)).expect("file to edit");
    let (find, replace) = scenario.breaks.unwrap_or_default();
    let env = [
        ("PREVIEW_URL", provisioner.preview_url(scenario.app)),
        ("API_URL", provisioner.base_url()),
        ("API_KEY", provisioner.api_key().to_owned()),
        ("APP_ID", scenario.app.to_owned()),
        ("FILE", scenario.file.to_owned()),
        ("ORIGINAL", original),
        ("SHOWN", scenario.shown.to_owned()),
        ("HOT", if scenario.hot { "1" } else { "0" }.to_owned()),
        ("BREAK_FIND", find.to_owned()),
        ("BREAK_REPLACE", replace.to_owned()),
    ];
    match run_script("real-app.mjs", &env, Duration::from_secs(420)).await {
        Ok(summary) => {
            println!("{}: {summary}", scenario.app);
            summary
        }
        Err(error) => panic!(
            "{error:#}\ndaemon log:\n{}",
            daemon_log(provisioner, scenario.app)
        ),
    }
}

async fn runtime_framework(provisioner: &LocalProvisioner, app: &str) -> Option<String> {
    let preview = provisioner.preview(app).await.expect("preview");
    preview.runtime.and_then(|runtime| runtime.framework)
}

async fn a_framework_app_hot_updates_and_recovers(
    project: &Path,
    scenario: Scenario<'_>,
    framework: &str,
) {
    // Arrange
    let provisioner = provisioner().await;
    push(&provisioner, scenario.app, project).await;
    wait_until_served(&provisioner, scenario.app).await;

    // Act
    let summary = browse(&provisioner, project, &scenario).await;

    // Assert
    assert_eq!(summary["hot_update"], true, "{summary}");
    assert_eq!(
        summary["error_overlay"], true,
        "the syntax error showed: {summary}"
    );
    assert_eq!(summary["recovered"], true, "{summary}");
    assert_eq!(
        runtime_framework(&provisioner, scenario.app)
            .await
            .as_deref(),
        Some(framework)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_vite_react_app_renders_hot_updates_and_recovers_from_a_syntax_error() {
    let project = npm_apps::vite_app("react", "vite-react").expect("create-vite template");
    let scenario = Scenario {
        app: "vite-react",
        file: "src/App.jsx",
        shown: "Get started",
        hot: true,
        breaks: Some(("return (", "return ((")),
    };
    a_framework_app_hot_updates_and_recovers(project.path(), scenario, "vite-react").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_vite_vue_app_renders_hot_updates_and_recovers_from_a_syntax_error() {
    let project = npm_apps::vite_app("vue", "vite-vue").expect("create-vite template");
    let scenario = Scenario {
        app: "vite-vue",
        file: "src/components/HelloWorld.vue",
        shown: "Get started",
        hot: true,
        breaks: Some(("ref(0)", "ref(0")),
    };
    a_framework_app_hot_updates_and_recovers(project.path(), scenario, "vite-vue").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_next_app_router_app_renders_hot_updates_and_recovers_from_a_syntax_error() {
    let project = npm_apps::next_app("next-app").expect("create-next-app template");
    let scenario = Scenario {
        app: "next-app",
        file: "app/page.js",
        shown: "To get started, edit the",
        hot: true,
        breaks: Some(("return (", "return ((")),
    };
    a_framework_app_hot_updates_and_recovers(project.path(), scenario, "next").await;
}

/// The plain case: no framework, no hot reload; `node server.js` is
/// restarted on each revision and an edit shows on reload.
const PLAIN_SERVER: &str = r#"const http = require('http')
const page = '<!doctype html><title>plain</title><h1>Hello from plain Node</h1>'
http
  .createServer((request, response) => {
    response.setHeader('content-type', 'text/html')
    response.end(page)
  })
  .listen(process.env.PORT || 3000)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_node_server_renders_restarts_on_edits_and_recovers_from_a_syntax_error() {
    // Arrange
    let project = tempfile::tempdir().expect("project");
    std::fs::write(project.path().join("server.js"), PLAIN_SERVER).expect("write");
    let provisioner = provisioner().await;
    push(&provisioner, "plain", project.path()).await;
    wait_until_served(&provisioner, "plain").await;
    let scenario = Scenario {
        app: "plain",
        file: "server.js",
        shown: "Hello from plain Node",
        hot: false,
        breaks: None,
    };

    // Act
    let summary = browse(&provisioner, project.path(), &scenario).await;

    // Assert
    assert!(summary["edit_ms"].is_u64(), "{summary}");
    assert_eq!(summary["recovered"], true, "{summary}");
    assert_eq!(
        runtime_framework(&provisioner, "plain").await.as_deref(),
        Some("node")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_that_insist_on_the_same_port_run_side_by_side() {
    // Arrange: two Vite apps whose config demands port 5173 and nothing else.
    let provisioner = provisioner().await;
    let mut projects = Vec::new();
    for app in ["port-one", "port-two"] {
        let project = npm_apps::vite_app("react", app).expect("create-vite template");
        std::fs::write(
            project.path().join("vite.config.js"),
            "import { defineConfig } from 'vite'\nimport react from '@vitejs/plugin-react'\n\n\
             export default defineConfig({\n  plugins: [react()],\n  server: { port: 5173, strictPort: true },\n})\n",
        )
        .expect("config");
        let index = std::fs::read_to_string(project.path().join("index.html")).expect("index");
        std::fs::write(
            project.path().join("index.html"),
            index.replace("<title>", &format!("<title>{app} ")),
        )
        .expect("index");
        projects.push(project);
    }

    // Act
    for (app, project) in ["port-one", "port-two"].into_iter().zip(&projects) {
        push(&provisioner, app, project.path()).await;
    }

    // Assert: each answers its own page through the proxy, at the same time.
    for app in ["port-one", "port-two"] {
        wait_until_served(&provisioner, app).await;
    }
    for app in ["port-one", "port-two"] {
        let (status, body) = provisioner
            .visit(app, "/", "text/html")
            .await
            .expect("visit");
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&format!("<title>{app} ")) && body.contains("/@vite/client"),
            "{app}: {body}"
        );
    }
    // Each dev server answers on its own port (reported with the status).
    let mut ports = (None, None);
    for _ in 0..200 {
        let upstream = |preview: sync_protocol::PreviewResponse| {
            preview.runtime.and_then(|runtime| runtime.upstream_port)
        };
        ports = (
            upstream(provisioner.preview("port-one").await.expect("preview")),
            upstream(provisioner.preview("port-two").await.expect("preview")),
        );
        if ports.0.is_some() && ports.1.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ports.0.is_some() && ports.1.is_some() && ports.0 != ports.1,
        "{ports:?}"
    );
}
