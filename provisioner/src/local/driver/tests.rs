//! The local driver against a stand-in daemon: a shell script that starts a
//! grandchild in a group of its own and leaves it behind when terminated,
//! the worst case for cleanup.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sync_protocol::SyncToken;

use super::*;

const FAKE_DAEMON: &str = r#"#!/bin/sh
# Stands in for sync-daemon: records its arguments and token, starts a
# "dev server" in another session, and exits on SIGTERM without stopping it.
echo "$@" > args.txt
printf '%s' "$SYNC_TOKEN" > token-seen.txt
setsid sleep 120 &
echo $! > grandchild.pid
trap 'exit 0' TERM
# Bounded, so a failed test cannot leave it running for long.
for _ in $(seq 1 120); do sleep 1; done
"#;

fn driver_config(root: &std::path::Path) -> LocalDriverConfig {
    driver_config_with(root, FAKE_DAEMON)
}

fn driver_config_with(root: &std::path::Path, script: &str) -> LocalDriverConfig {
    let bin = root.join("fake-daemon.sh");
    std::fs::write(&bin, script).expect("write fake daemon");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    LocalDriverConfig {
        previews_root: root.join("previews"),
        sync_daemon_bin: bin,
        exec: "node server.js".to_owned(),
        install: None,
        package_cache: root.join("package-cache"),
        proxy_port: 8080,
        server_url: None,
        stop_grace: Duration::from_millis(300),
        // The fake daemon runs no app code.
        sandbox: crate::local::sandbox::PreviewSandbox::Unsandboxed,
    }
}

fn spec(app: &str) -> PreviewSpec {
    let app_id = AppId::parse(app).expect("app id");
    PreviewSpec {
        sync_token: SyncToken::new(app_id.clone(), [9; 32]),
        app_id,
        server_url: "http://127.0.0.1:9".to_owned(),
    }
}

async fn provision(driver: &LocalDriver, spec: &PreviewSpec) -> LocalData {
    let mut data = LocalData::default();
    for step in LocalStep::ALL {
        driver
            .run_step(*step, spec, &mut data)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", step.name()));
    }
    data
}

/// Reads a pid file the fake daemon writes, waiting for it a little.
async fn read_pid_file(path: &std::path::Path) -> i32 {
    for _ in 0..100 {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} was never written", path.display());
}

#[tokio::test]
async fn the_local_driver_keeps_the_driver_contract() {
    let root = tempfile::tempdir().expect("tempdir");
    let driver = LocalDriver::open(driver_config(root.path()))
        .await
        .expect("open");
    crate::lifecycle::conformance::check_driver(&driver, &spec("contract")).await;
    driver.shutdown().await;
}

#[tokio::test]
async fn provision_stop_start_destroy() {
    let root = tempfile::tempdir().expect("tempdir");
    let driver = LocalDriver::open(driver_config(root.path()))
        .await
        .expect("open");
    let spec = spec("app-one");
    let app_id = &spec.app_id;
    assert_eq!(
        driver
            .state(app_id, &LocalData::default())
            .await
            .expect("state"),
        MachineState::Absent
    );

    let mut data = provision(&driver, &spec).await;
    assert_eq!(
        driver.state(app_id, &data).await.expect("state"),
        MachineState::Started
    );
    let port = data.port.expect("port");
    assert_eq!(driver.running_port(app_id), Some(port));
    assert_eq!(
        driver.url(app_id, &data),
        "http://preview-app-one.localhost:8080/"
    );

    let work = root.path().join("previews/app-one");
    let grandchild = read_pid_file(&work.join("grandchild.pid")).await;
    let args = std::fs::read_to_string(work.join("args.txt")).expect("args");
    assert!(
        args.contains(&format!("--port {port}")) && args.contains("--exec node server.js"),
        "{args}"
    );
    assert!(
        !args.contains(&spec.sync_token.expose()),
        "the token never goes on argv"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("token-seen.txt")).expect("token"),
        spec.sync_token.expose()
    );

    driver
        .stop(app_id, &mut data, StopMode::Suspend)
        .await
        .expect("stop");
    assert_eq!(
        driver.state(app_id, &data).await.expect("state"),
        MachineState::Suspended
    );
    assert!(
        !process_tree::is_running(grandchild),
        "the dev server left in another session is killed too"
    );

    driver.start(app_id, &mut data).await.expect("start");
    assert_eq!(
        driver.state(app_id, &data).await.expect("state"),
        MachineState::Started
    );
    assert_eq!(data.port, Some(port), "the port is kept across a stop");

    driver.destroy(app_id, &data).await.expect("destroy");
    assert!(!work.exists());
    assert_eq!(
        driver.state(app_id, &data).await.expect("state"),
        MachineState::Absent
    );
    driver
        .destroy(app_id, &data)
        .await
        .expect("destroy is idempotent");
}

#[tokio::test]
async fn two_previews_get_their_own_ports_and_dirs_and_shutdown_stops_both() {
    let root = tempfile::tempdir().expect("tempdir");
    let driver = LocalDriver::open(driver_config(root.path()))
        .await
        .expect("open");
    let (first, second) = (spec("first"), spec("second"));
    let first_data = provision(&driver, &first).await;
    let second_data = provision(&driver, &second).await;
    assert_ne!(first_data.port, second_data.port);
    assert_ne!(first_data.work_dir, second_data.work_dir);
    let listed = driver.list().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|(_, state, _)| *state == MachineState::Started)
    );

    let pids = [
        driver.daemon_pid(&first.app_id).expect("pid"),
        driver.daemon_pid(&second.app_id).expect("pid"),
    ];
    driver.shutdown().await;
    assert!(
        pids.iter().all(|pid| !process_tree::is_running(*pid)),
        "no daemon outlives shutdown"
    );
    assert!(
        driver
            .start(&first.app_id, &mut first_data.clone())
            .await
            .is_err(),
        "no start after shutdown"
    );
}

#[tokio::test]
async fn reopening_replaces_strays_of_an_earlier_run() {
    let root = tempfile::tempdir().expect("tempdir");
    let config = driver_config(root.path());
    let earlier = LocalDriver::open(config.clone()).await.expect("open");
    let spec = spec("stray");
    provision(&earlier, &spec).await;
    let old_pid = earlier.daemon_pid(&spec.app_id).expect("pid");
    let old_grandchild = read_pid_file(&root.path().join("previews/stray/grandchild.pid")).await;
    std::fs::remove_file(root.path().join("previews/stray/grandchild.pid")).expect("remove");
    // The earlier provisioner "crashes": no shutdown, its processes run on.
    drop(earlier);

    let later = LocalDriver::open(config).await.expect("reopen");
    assert!(
        !process_tree::is_running(old_grandchild),
        "the stray's dev server is killed"
    );
    let new_pid = later
        .daemon_pid(&spec.app_id)
        .expect("relaunched as our own child");
    assert_ne!(new_pid, old_pid);
    later.shutdown().await;
    assert!(!process_tree::is_running(new_pid));
}

#[tokio::test]
async fn a_crashed_daemon_is_started_again() {
    // Exits at once on its first run, then behaves.
    let script = "#!/bin/sh\nif [ ! -e crashed-once ]; then touch crashed-once; exit 3; fi\nexec sleep 120\n";
    let root = tempfile::tempdir().expect("tempdir");
    let driver = LocalDriver::open(driver_config_with(root.path(), script))
        .await
        .expect("open");
    let spec = spec("crashy");
    let data = provision(&driver, &spec).await;
    let first_pid: i32 = std::fs::read_to_string(root.path().join("previews/crashy/daemon.pid"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|record| record["pid"].as_i64())
        .and_then(|pid| i32::try_from(pid).ok())
        .expect("pid record");
    let mut relaunched = None;
    for _ in 0..100 {
        relaunched = driver
            .daemon_pid(&spec.app_id)
            .filter(|pid| *pid != first_pid);
        if relaunched.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(relaunched.is_some(), "the crashed daemon was relaunched");
    assert_eq!(
        driver.state(&spec.app_id, &data).await.expect("state"),
        MachineState::Started
    );
    driver.shutdown().await;
}
