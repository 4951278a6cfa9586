//! Local previews end to end: the real provisioner on the local driver, real
//! sync-daemons supervising a one-file node dev server, reached through the
//! edge proxy on loopback.

use std::time::Duration;

use reqwest::Method;

use preview_tests::local_preview::{
    DEV_SERVER, LocalProvisioner, process_exists, process_inside, processes_inside, wait_gone,
};
use sync_protocol::PreviewState;

const BOOT: Duration = Duration::from_secs(30);

/// The dev server's pid as this machine sees it, once it answers.
async fn dev_server_pid(provisioner: &LocalProvisioner, app: &str) -> i32 {
    provisioner
        .visit_until(app, "/pid", BOOT, |status, _| status == 200)
        .await
        .expect("dev server answers");
    let app_dir = provisioner
        .data_dir()
        .join("previews")
        .join(app)
        .join("app");
    process_inside(&app_dir, "server.js").expect("the dev server runs inside its app dir")
}

#[tokio::test]
async fn two_previews_side_by_side_then_shutdown_stops_both() {
    // Arrange
    let mut provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("left", "left side")
        .await
        .expect("left");
    provisioner
        .push_and_provision("right", "right side")
        .await
        .expect("right");

    // Act and assert: each host reaches its own dev server.
    provisioner
        .visit_until("left", "/", BOOT, |status, body| {
            status == 200 && body == "left side"
        })
        .await
        .expect("left");
    provisioner
        .visit_until("right", "/", BOOT, |status, body| {
            status == 200 && body == "right side"
        })
        .await
        .expect("right");
    let hosts = provisioner
        .visit("left", "/host", "*/*")
        .await
        .expect("host")
        .1;
    let port = provisioner.port();
    assert!(
        hosts.starts_with("localhost:")
            && hosts.ends_with(&format!(" preview-left.localhost:{port}")),
        "{hosts}"
    );

    let previews = provisioner.data_dir().join("previews");
    let (left_pid, right_pid) = (
        dev_server_pid(&provisioner, "left").await,
        dev_server_pid(&provisioner, "right").await,
    );
    assert_ne!(left_pid, right_pid);
    assert!(processes_inside(&previews.join("left/app")).contains(&left_pid));
    assert!(processes_inside(&previews.join("right/app")).contains(&right_pid));
    assert_eq!(
        std::fs::read_to_string(previews.join("left/app/message.txt")).expect("left file"),
        "left side"
    );

    let (status, body) = provisioner
        .visit("nobody", "/", "text/html")
        .await
        .expect("visit");
    assert_eq!(status, 404);
    assert!(
        body.contains("There is no preview named preview-nobody"),
        "{body}"
    );

    // A graceful stop ends every preview process.
    let daemons = [
        provisioner.daemon_pid("left").expect("pid"),
        provisioner.daemon_pid("right").expect("pid"),
    ];
    provisioner.terminate().await.expect("terminate");
    for pid in daemons.into_iter().chain([left_pid, right_pid]) {
        assert!(
            wait_gone(pid, Duration::from_secs(5)).await,
            "process {pid} outlived the provisioner"
        );
    }
}

#[tokio::test]
async fn idle_preview_stops_and_wakes_on_visit() {
    // Arrange
    let provisioner = LocalProvisioner::start(&["--idle-timeout", "2s", "--loop-interval", "1s"])
        .await
        .expect("start");
    provisioner
        .push_and_provision("sleepy", "awake")
        .await
        .expect("provision");
    let first_pid = dev_server_pid(&provisioner, "sleepy").await;

    // Act: no traffic for longer than the idle timeout.
    provisioner
        .wait_asleep("sleepy", Duration::from_secs(10))
        .await
        .expect("asleep");
    assert!(
        wait_gone(first_pid, Duration::from_secs(10)).await,
        "the dev server stopped with the preview"
    );

    // Assert: a browser first gets the loading page, then the app.
    let (status, body) = provisioner
        .visit("sleepy", "/", "text/html")
        .await
        .expect("visit");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Starting the preview"), "{body}");
    let (status, body) = provisioner
        .visit("sleepy", "/", "*/*")
        .await
        .expect("held visit");
    assert_eq!(
        (status, body.as_str()),
        (200, "awake"),
        "a non-HTML request is held until the app answers"
    );
    assert_eq!(
        provisioner.preview("sleepy").await.expect("preview").state,
        PreviewState::Running
    );
}

#[tokio::test]
async fn deleting_mid_boot_leaves_no_process() {
    // Arrange
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push("hasty", &[("server.js", DEV_SERVER), ("message.txt", "x")])
        .await
        .expect("push");
    let (status, body) = provisioner
        .call(
            Method::POST,
            "/v1/apps/hasty/provision-preview?wait=false",
            None,
        )
        .await
        .expect("provision");
    assert!(status == 200 || status == 202, "{status} {body}");

    // Act
    let (status, body) = provisioner
        .call(Method::DELETE, "/v1/apps/hasty/preview", None)
        .await
        .expect("delete");

    // Assert
    assert_eq!(status, 200, "{body}");
    let work_dir = provisioner.data_dir().join("previews/hasty");
    for _ in 0..100 {
        if !work_dir.exists() && processes_inside(&work_dir).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!work_dir.exists(), "the work dir is removed");
    assert_eq!(processes_inside(&work_dir), Vec::<i32>::new());
    let (status, _) = provisioner
        .visit("hasty", "/", "text/html")
        .await
        .expect("visit");
    assert_eq!(status, 404);
}

#[tokio::test]
async fn crashed_dev_server_is_restarted() {
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("crashy", "still here")
        .await
        .expect("provision");
    let first_pid = dev_server_pid(&provisioner, "crashy").await;

    let _ = provisioner.visit("crashy", "/crash", "*/*").await;

    let app_dir = provisioner.data_dir().join("previews/crashy/app");
    let mut second = None;
    for _ in 0..600 {
        second = process_inside(&app_dir, "server.js").filter(|pid| *pid != first_pid);
        if second.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = second.expect("a new dev server runs");
    provisioner
        .visit_until("crashy", "/", BOOT, |status, body| {
            status == 200 && body == "still here"
        })
        .await
        .expect("restarted");
    assert!(!process_exists(first_pid));
    assert!(process_exists(second));
}

#[tokio::test]
async fn package_json_change_triggers_install() {
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push(
            "deps",
            &[("package.json", r#"{"name":"deps","version":"1.0.0"}"#)],
        )
        .await
        .expect("push");
    provisioner
        .push_and_provision("deps", "with deps")
        .await
        .expect("provision");
    provisioner
        .visit_until("deps", "/installs", BOOT, |status, body| {
            status == 200 && body == "1"
        })
        .await
        .expect("first install");

    provisioner
        .push(
            "deps",
            &[("package.json", r#"{"name":"deps","version":"1.0.1"}"#)],
        )
        .await
        .expect("push");

    provisioner
        .visit_until("deps", "/installs", BOOT, |status, body| {
            status == 200 && body == "2"
        })
        .await
        .expect("reinstall");
    // A message change alone installs nothing.
    provisioner
        .push("deps", &[("message.txt", "changed")])
        .await
        .expect("push");
    provisioner
        .visit_until("deps", "/", BOOT, |_, body| body == "changed")
        .await
        .expect("synced");
    assert_eq!(
        provisioner
            .visit("deps", "/installs", "*/*")
            .await
            .expect("visit")
            .1,
        "2"
    );
}

#[tokio::test]
async fn provisioner_restart_leaves_no_orphan() {
    // Arrange: two running previews.
    let mut provisioner = LocalProvisioner::start(&[]).await.expect("start");
    provisioner
        .push_and_provision("one", "first")
        .await
        .expect("one");
    provisioner
        .push_and_provision("two", "second")
        .await
        .expect("two");
    let old: Vec<i32> = vec![
        provisioner.daemon_pid("one").expect("daemon"),
        provisioner.daemon_pid("two").expect("daemon"),
        dev_server_pid(&provisioner, "one").await,
        dev_server_pid(&provisioner, "two").await,
    ];

    // Act: the provisioner dies without a chance to clean up.
    provisioner.crash().await;
    assert!(
        old.iter().all(|pid| process_exists(*pid)),
        "a crash leaves the previews running"
    );
    provisioner.start_again().await.expect("restart");

    // Assert: the strays are gone and the previews serve again from new processes.
    for pid in &old {
        assert!(
            wait_gone(*pid, Duration::from_secs(10)).await,
            "stray process {pid} survived the restart"
        );
    }
    provisioner
        .visit_until("one", "/", BOOT, |status, body| {
            status == 200 && body == "first"
        })
        .await
        .expect("one");
    provisioner
        .visit_until("two", "/", BOOT, |status, body| {
            status == 200 && body == "second"
        })
        .await
        .expect("two");
    let new_daemon = provisioner.daemon_pid("one").expect("daemon");
    assert!(!old.contains(&new_daemon));
    provisioner.terminate().await.expect("terminate");
    assert!(wait_gone(new_daemon, Duration::from_secs(5)).await);
}
