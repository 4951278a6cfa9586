//! Restart, rebuild and the dev server's own restarts, end to end through
//! the local driver, each seen in the preview's log.

use std::time::Duration;

use reqwest::Method;
use sync_protocol::{DevServerState, PreviewState};

use preview_tests::local_preview::LocalProvisioner;

use crate::logs::{BOOT, CHATTY_SERVER, INSTALL, PACKAGE_JSON, chatty_preview, has, log_until};

/// How many lines of `source` contain `text`.
fn count(lines: &[(String, String)], source: &str, text: &str) -> usize {
    lines
        .iter()
        .filter(|(line_source, line)| line_source == source && line.contains(text))
        .count()
}

const BANNER: &str = "chatty dev server listening on";

#[tokio::test]
async fn restart_and_rebuild_are_carried_out_and_logged() {
    // Arrange
    let provisioner = chatty_preview("knobs").await;
    log_until(&provisioner, "knobs", |lines| {
        count(lines, "dev_server", BANNER) == 1
    })
    .await;

    // Act: a restart.
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/knobs/preview/restart", None)
        .await
        .expect("restart");
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["kind"], "restart");

    // Assert: the dev server started again, without a new install.
    let lines = log_until(&provisioner, "knobs", |lines| {
        count(lines, "dev_server", BANNER) == 2
    })
    .await;
    assert!(has(&lines, "daemon", "restart asked"), "{lines:#?}");
    assert_eq!(
        count(&lines, "install", "install step one"),
        1,
        "{lines:#?}"
    );

    // Act: a rebuild, with dependencies and a framework cache on disk.
    let app_dir = provisioner.data_dir().join("previews/knobs/app");
    std::fs::create_dir_all(app_dir.join("node_modules/left-pad")).unwrap();
    std::fs::write(app_dir.join("node_modules/left-pad/index.js"), "x").unwrap();
    std::fs::create_dir_all(app_dir.join(".next/cache")).unwrap();
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/knobs/preview/rebuild", None)
        .await
        .expect("rebuild");
    assert_eq!(status, 202, "{body}");

    // Assert: removed, installed again, started again; all in the log.
    let lines = log_until(&provisioner, "knobs", |lines| {
        count(lines, "dev_server", BANNER) == 3
    })
    .await;
    for said in ["rebuild asked", "removed node_modules", "removed .next"] {
        assert!(has(&lines, "daemon", said), "{said}: {lines:#?}");
    }
    assert_eq!(
        count(&lines, "install", "install step one"),
        2,
        "{lines:#?}"
    );
    assert!(!app_dir.join("node_modules").exists());
    assert!(!app_dir.join(".next").exists());
    assert!(app_dir.join("server.js").exists(), "the app's files stay");
}

#[tokio::test]
async fn controls_of_a_preview_that_does_not_run_are_refused_clearly() {
    let provisioner = chatty_preview("gone").await;
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/never/preview/restart", None)
        .await
        .expect("restart");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "preview_not_found");

    let (status, _) = provisioner
        .call(Method::DELETE, "/v1/apps/gone/preview", None)
        .await
        .expect("delete");
    assert!(status < 300);
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/gone/preview/rebuild", None)
        .await
        .expect("rebuild");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "preview_not_running");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("provision or wake it first"), "{message}");
}

#[tokio::test]
async fn an_env_file_edit_restarts_the_dev_server() {
    // Arrange
    let provisioner = chatty_preview("tuned").await;
    log_until(&provisioner, "tuned", |lines| {
        count(lines, "dev_server", BANNER) == 1
    })
    .await;

    // Act
    provisioner
        .push("tuned", &[(".env", "GREETING=hello")])
        .await
        .expect("push");

    // Assert
    let lines = log_until(&provisioner, "tuned", |lines| {
        count(lines, "dev_server", BANNER) == 2
    })
    .await;
    assert!(
        has(&lines, "daemon", "read only at start changed"),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_crash_loop_stops_and_its_last_output_is_the_previews_error() {
    // Arrange: a dev server that dies at once, saying why.
    let provisioner = LocalProvisioner::start_with("node server.js", Some(INSTALL), &[])
        .await
        .expect("start");
    let dying = "console.error('boom: DATABASE_URL is not set'); process.exit(3);";
    provisioner
        .push(
            "doomed",
            &[("server.js", dying), ("package.json", PACKAGE_JSON)],
        )
        .await
        .expect("push");

    // Act
    let (status, body) = provisioner
        .call(Method::POST, "/v1/apps/doomed/provision-preview", None)
        .await
        .expect("provision");
    assert_eq!(status, 200, "{body}");

    // Assert: it gave up, said so, and the preview carries the reason.
    let lines = log_until(&provisioner, "doomed", |lines| {
        has(lines, "daemon", "times in a row")
    })
    .await;
    assert_eq!(
        count(&lines, "dev_server", "boom: DATABASE_URL"),
        3,
        "{lines:#?}"
    );
    let deadline = tokio::time::Instant::now() + BOOT;
    let preview = loop {
        let preview = provisioner.preview("doomed").await.expect("preview");
        if preview.dev_server == Some(DevServerState::Crashed)
            && preview
                .error
                .as_deref()
                .is_some_and(|error| error.contains("times in a row"))
        {
            break preview;
        }
        assert!(tokio::time::Instant::now() < deadline, "{preview:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(preview.state, PreviewState::Running);
    assert!(
        preview
            .error
            .unwrap()
            .contains("boom: DATABASE_URL is not set"),
        "the last output is the error"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = crate::logs::whole_log(&provisioner, "doomed").await;
    assert_eq!(
        count(&later, "dev_server", "boom: DATABASE_URL"),
        3,
        "not started again"
    );

    // A fixed server starts again by itself.
    provisioner
        .push("doomed", &[("server.js", CHATTY_SERVER)])
        .await
        .expect("fix");
    log_until(&provisioner, "doomed", |lines| {
        count(lines, "dev_server", BANNER) == 1
    })
    .await;
}
