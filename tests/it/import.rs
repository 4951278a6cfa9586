//! `POST /v1/apps/{appId}/import` against real git servers on loopback:
//! `git daemon`, and git's smart HTTP (`git http-backend`) behind a small
//! server that requires a token.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use preview_tests::git_server::{GitDaemon, TokenGitServer, commit_all, git_repository};
use preview_tests::local_preview::{DEV_SERVER, LocalProvisioner};

const BOOT: Duration = Duration::from_secs(30);

/// A repository of a tiny app: the dev server, a message, an ignored file
/// committed anyway, and a committed `node_modules/`.
fn app_repository(root: &Path) -> std::path::PathBuf {
    let repository = git_repository(root, "app");
    std::fs::write(repository.join("server.js"), DEV_SERVER).unwrap();
    std::fs::write(repository.join("index.html"), "<h1>app</h1>").unwrap();
    std::fs::write(repository.join("message.txt"), "first").unwrap();
    std::fs::write(repository.join(".gitignore"), "local.env\n").unwrap();
    std::fs::write(repository.join("local.env"), "SECRET=1").unwrap();
    std::fs::create_dir_all(repository.join("node_modules/x")).unwrap();
    std::fs::write(repository.join("node_modules/x/index.js"), "vendored").unwrap();
    commit_all(&repository, "first", true);
    repository
}

async fn import(provisioner: &LocalProvisioner, app: &str, body: Value) -> (u16, Value) {
    provisioner
        .call(Method::POST, &format!("/v1/apps/{app}/import"), Some(body))
        .await
        .expect("import answers")
}

/// The app's import as its preview's event stream (`GET .../preview/events`)
/// carries it: the data of the first `import` event, within a few seconds.
async fn import_event(provisioner: &LocalProvisioner, app: &str) -> Value {
    let url = format!("{}/v1/apps/{app}/preview/events", provisioner.base_url());
    let mut response = reqwest::Client::new()
        .get(url)
        .bearer_auth(provisioner.api_key())
        .send()
        .await
        .expect("the event stream answers");
    assert_eq!(response.status(), 200, "the event stream of {app}");
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await;
        let Ok(Ok(Some(chunk))) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&chunk));
        // Complete events only: each ends with a blank line.
        let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
        for event in complete.split("\n\n") {
            let mut lines = event.lines();
            if lines.next() == Some("event: import")
                && let Some(data) = lines.next().and_then(|line| line.strip_prefix("data: "))
            {
                return serde_json::from_str(data).expect("an import event holds JSON");
            }
        }
    }
    panic!("no import event for {app}: {text}")
}

/// The one failed step of an import report.
fn failed_step(report: &Value) -> &Value {
    let failed: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|step| step["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    failed[0]
}

#[tokio::test]
async fn import_from_git_daemon_serves_the_preview_and_a_reimport_saves_only_what_changed() {
    // Arrange
    let root = tempfile::tempdir().unwrap();
    let repository = app_repository(root.path());
    let daemon = GitDaemon::start(root.path()).await.unwrap();
    let provisioner = LocalProvisioner::start(&[]).await.unwrap();
    let url = daemon.url("app");

    // Act
    let (status, first) = import(&provisioner, "repo", json!({"git": {"url": url}})).await;

    // Assert
    assert_eq!(status, 200, "{first}");
    let steps: Vec<&str> = first["import"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["validate", "validate", "fetch", "detect", "save", "boot"]
    );
    assert!(
        first["import"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["status"] == "done" && step["log"].is_string()),
        "{first}"
    );
    assert_eq!(first["import"]["ref"], "main");
    assert_eq!(first["import"]["project"]["project_type"], "static");
    assert_eq!(first["import"]["commit"].as_str().unwrap().len(), 40);
    assert_eq!(first["preview"]["state"], "running");
    // What was detected is in the preview resource, the steps too.
    let source = &first["preview"]["source"];
    assert_eq!(source["repository"], url.as_str(), "{first}");
    assert_eq!(source["ref"], "main");
    assert_eq!(source["commit"], first["import"]["commit"]);
    assert_eq!(source["project"]["project_type"], "static");
    assert_eq!(source["steps"], first["import"]["steps"]);
    provisioner
        .visit_until("repo", "/", BOOT, |status, body| {
            status == 200 && body == "first"
        })
        .await
        .expect("the imported app serves");
    let (_, manifest) = provisioner
        .call(Method::GET, "/v1/apps/repo/files", None)
        .await
        .unwrap();
    let mut paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap())
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [".gitignore", "index.html", "message.txt", "server.js"]
    );

    // Act: a second commit, imported again.
    std::fs::write(repository.join("message.txt"), "second").unwrap();
    commit_all(&repository, "second", false);
    let (status, second) = import(
        &provisioner,
        "repo",
        json!({"git": {"url": url, "ref": "main"}}),
    )
    .await;

    // Assert: one revision holding the one changed file.
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["import"]["changed"], 1, "{second}");
    assert_eq!(
        second["import"]["revision"].as_u64().unwrap(),
        first["import"]["revision"].as_u64().unwrap() + 1
    );
    provisioner
        .visit_until("repo", "/", BOOT, |status, body| {
            status == 200 && body == "second"
        })
        .await
        .expect("the new commit serves");
}

#[tokio::test]
async fn import_errors_name_the_step_and_what_to_change() {
    // Arrange
    let root = tempfile::tempdir().unwrap();
    app_repository(root.path());
    let empty = git_repository(root.path(), "notweb");
    std::fs::write(empty.join("README.md"), "docs only").unwrap();
    commit_all(&empty, "docs", true);
    let daemon = GitDaemon::start(root.path()).await.unwrap();
    let provisioner = LocalProvisioner::start(&["--max-files-per-app", "2"])
        .await
        .unwrap();

    // Act
    let cases = [
        (
            json!({"git": {"url": daemon.url("missing")}}),
            422,
            "repository_not_accessible",
            "validate",
            "no token was given",
        ),
        (
            json!({"git": {"url": daemon.url("app"), "ref": "nope"}}),
            422,
            "ref_not_found",
            "validate",
            "default branch is \"main\"",
        ),
        (
            json!({"git": {"url": daemon.url("notweb")}}),
            422,
            "not_a_web_project",
            "detect",
            "package.json",
        ),
        (
            json!({"git": {"url": daemon.url("app")}}),
            413,
            "app_file_limit",
            "save",
            "--max-files-per-app",
        ),
        (
            json!({"git": {"url": "file:///etc"}}),
            400,
            "import_invalid",
            "validate",
            "https://",
        ),
    ];
    for (body, expected_status, expected_code, expected_step, hint) in cases {
        let (status, answer) = import(&provisioner, "broken", body.clone()).await;
        let recorded = import_event(&provisioner, "broken").await;

        // Assert: the answer, and the step log the editor follows, say the same.
        assert_eq!(status, expected_status, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], expected_code, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(hint), "{body}: {message}");
        assert!(message.starts_with("import step"), "{message}");
        let failed = failed_step(&recorded);
        assert_eq!(failed["name"], expected_step, "{body}: {recorded}");
        let log = failed["log"].as_str().unwrap();
        assert!(log.contains(hint), "{body}: {log}");
        assert!(failed["duration_ms"].is_u64(), "{recorded}");
        assert_eq!(recorded["repository"], body["git"]["url"]);
    }
}

#[tokio::test]
async fn import_over_smart_http_needs_the_token_and_never_keeps_it() {
    // Arrange
    let root = tempfile::tempdir().unwrap();
    app_repository(root.path());
    let token = format!("tok-{}", rand::random::<u64>());
    let server = TokenGitServer::start(root.path(), &token).await.unwrap();
    // Its log (at debug) is kept in its data dir, which is searched below.
    let provisioner = LocalProvisioner::start_logging(&[]).await.unwrap();
    let url = server.url("app");

    // Act
    let (no_token, refused) = import(&provisioner, "private", json!({"git": {"url": url}})).await;
    let refused_log = import_event(&provisioner, "private").await;
    let (wrong_token, wrong) = import(
        &provisioner,
        "private",
        json!({"git": {"url": url}, "token": "wrong"}),
    )
    .await;
    let wrong_log = import_event(&provisioner, "private").await;
    let (status, imported) = import(
        &provisioner,
        "private",
        json!({"git": {"url": url}, "token": token}),
    )
    .await;

    // Assert
    assert_eq!(no_token, 422, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no token was given")
    );
    assert_eq!(wrong_token, 422, "{wrong}");
    assert!(
        wrong["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a token was given")
    );
    for (log, given) in [
        (&refused_log, "no token was given"),
        (&wrong_log, "a token was given"),
    ] {
        let failed = failed_step(log);
        assert_eq!(failed["name"], "validate", "{log}");
        assert!(failed["log"].as_str().unwrap().contains(given), "{log}");
    }
    assert_eq!(status, 200, "{imported}");
    assert!(server.authorized_requests() > 0);
    let (_, preview) = provisioner
        .call(Method::GET, "/v1/apps/private/preview", None)
        .await
        .unwrap();
    assert_eq!(preview["source"]["repository"], url.as_str(), "{preview}");
    let imported_log = import_event(&provisioner, "private").await;
    for text in [
        refused.to_string(),
        wrong.to_string(),
        imported.to_string(),
        preview.to_string(),
        refused_log.to_string(),
        wrong_log.to_string(),
        imported_log.to_string(),
    ] {
        assert!(!text.contains(&token), "the token leaked: {text}");
    }
    // The store, the daemons' files and the provisioner's own log.
    let kept = preview_tests::daemon::read_tree(provisioner.data_dir(), &[]);
    assert!(kept.contains_key("provisioner.log"), "{:?}", kept.keys());
    for (path, content) in kept {
        let text = String::from_utf8_lossy(&content);
        assert!(!text.contains(&token), "the token is in {path}");
    }
}

#[tokio::test]
async fn a_real_vite_app_from_npm_imported_from_git_is_detected_and_served_by_vite() {
    // Arrange: create-vite's vanilla template, as `npm create vite` writes
    // it, committed into a throwaway repository served by `git daemon`.
    let root = tempfile::tempdir().unwrap();
    let repository = git_repository(root.path(), "viteapp");
    let project = preview_tests::npm_apps::vite_app("vanilla", "viteapp").unwrap();
    preview_tests::npm_apps::copy_tree(project.path(), &repository).unwrap();
    commit_all(&repository, "npm create vite", false);
    let daemon = GitDaemon::start(root.path()).await.unwrap();
    let cache = preview_tests::npm_apps::shared_package_cache().unwrap();
    let provisioner = LocalProvisioner::start_with(
        "auto",
        None,
        &["--local-package-cache", cache.to_str().unwrap()],
    )
    .await
    .unwrap();

    // Act
    let (status, imported) = import(
        &provisioner,
        "viteapp",
        json!({"git": {"url": daemon.url("viteapp")}}),
    )
    .await;

    // Assert: detected as Vite with npm, and its page is Vite's own answer
    // (the dev client injected), not the file as committed.
    assert_eq!(status, 200, "{imported}");
    assert_eq!(
        imported["import"]["project"]["project_type"], "vite",
        "{imported}"
    );
    assert_eq!(imported["import"]["project"]["package_manager"], "npm");
    assert!(
        imported["import"]["project"]["scripts"]["dev"].is_string(),
        "{imported}"
    );
    provisioner
        .visit_until("viteapp", "/", Duration::from_secs(420), |status, body| {
            status == 200
                && body.contains("<title>Vite + JS</title>")
                && body.contains("/@vite/client")
        })
        .await
        .expect("Vite serves the imported app");
    let runtime = provisioner
        .preview("viteapp")
        .await
        .unwrap()
        .runtime
        .unwrap();
    assert_eq!(runtime.framework.as_deref(), Some("vite"), "{runtime:?}");
}
