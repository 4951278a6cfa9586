//! Dev server supervision through the real binaries: a crashed dev server
//! is restarted, a `package.json` change reinstalls and restarts, SIGTERM
//! stops the whole process group and exits 0.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use preview_tests::binaries::free_port;
use preview_tests::daemon::{TestDaemon, wait_until};

use crate::daemon::{CONVERGE, Setup, setup};

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Whether the dev server answers `200` through the daemon's gateway on
/// `port` (the gateway alone answers `503` until the dev server is up).
fn port_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

/// Whether a process exists and is not a zombie.
fn running(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Starts a daemon supervising a Python HTTP server (on the private port
/// the daemon gives it in `PORT`, behind the gateway on `port`) that records
/// its pid (and the pid of a background `sleep` in its process group) in
/// `pids`, and counts installs in `installs`, both outside the synced tree.
fn spawn_supervised(setup: &Setup, port: u16) -> TestDaemon {
    let pids = setup.temp.path().join("pids");
    let installs = setup.temp.path().join("installs");
    let exec = format!(
        "sleep 1000 & echo $! >> {pids}; echo $$ >> {pids}; exec python3 -m http.server $PORT --bind 127.0.0.1",
        pids = pids.display()
    );
    // The install line also records whether the daemon's token leaked into
    // the child's environment (the daemon is given it by env).
    let install = format!(
        "echo installed token=${{SYNC_TOKEN:-absent}} >> {}",
        installs.display()
    );
    let port = port.to_string();
    setup.spawn_daemon(&["--exec", &exec, "--install", &install, "--port", &port])
}

fn package_json(version: &str) -> BTreeMap<String, Option<Vec<u8>>> {
    let body = format!(r#"{{"name":"app","version":"{version}"}}"#);
    [("package.json".to_owned(), Some(body.into_bytes()))].into()
}

#[tokio::test]
async fn daemon_supervise_restarts_a_crashed_dev_server() {
    let setup = setup("crash").await;
    setup
        .apply(&[("index.html".to_owned(), Some(b"hi".to_vec()))].into())
        .await;
    let port = free_port();
    let daemon = spawn_supervised(&setup, port);
    let pids = setup.temp.path().join("pids");
    assert!(
        wait_until(CONVERGE, || port_answers(port)).await,
        "{}",
        daemon.log()
    );
    let first_server = lines(&pids)[1].clone();

    // Act: the dev server dies.
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &first_server])
        .status()
        .unwrap();
    assert!(killed.success());

    // Assert: a new one starts and answers.
    assert!(
        wait_until(CONVERGE, || lines(&pids).len() >= 4).await,
        "{}",
        daemon.log()
    );
    assert!(
        wait_until(CONVERGE, || port_answers(port)).await,
        "{}",
        daemon.log()
    );
    assert!(
        daemon.log().contains("dev server exited"),
        "{}",
        daemon.log()
    );
    assert!(
        !running(&lines(&pids)[0]),
        "the crashed group's background sleep was stopped"
    );
    assert!(
        setup.dir.join("index.html").is_file(),
        "synced before the dev server started"
    );
}

#[tokio::test]
async fn daemon_supervise_reinstalls_and_restarts_when_package_json_changes() {
    let setup = setup("install").await;
    setup.apply(&package_json("1.0.0")).await;
    let port = free_port();
    let daemon = spawn_supervised(&setup, port);
    let installs = setup.temp.path().join("installs");
    let pids = setup.temp.path().join("pids");
    assert!(
        wait_until(CONVERGE, || port_answers(port)).await,
        "{}",
        daemon.log()
    );
    assert_eq!(lines(&installs).len(), 1, "installed once before starting");

    // A change to an ordinary file neither reinstalls nor restarts.
    setup
        .apply(&[("src/a.js".to_owned(), Some(b"1".to_vec()))].into())
        .await;
    assert!(wait_until(CONVERGE, || setup.dir.join("src/a.js").is_file()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (lines(&installs).len(), lines(&pids).len()),
        (1, 2),
        "{}",
        daemon.log()
    );

    // Act
    setup.apply(&package_json("1.0.1")).await;

    // Assert
    assert!(
        wait_until(CONVERGE, || lines(&installs).len() == 2).await,
        "{}",
        daemon.log()
    );
    assert!(
        wait_until(CONVERGE, || lines(&pids).len() == 4).await,
        "{}",
        daemon.log()
    );
    assert!(
        lines(&installs)
            .iter()
            .all(|line| line == "installed token=absent"),
        "the sync token reached the install command's environment"
    );
    assert!(
        wait_until(CONVERGE, || port_answers(port)).await,
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn daemon_supervise_sigterm_stops_the_process_group_and_exits_zero() {
    let setup = setup("sigterm").await;
    setup
        .apply(&[("index.html".to_owned(), Some(b"hi".to_vec()))].into())
        .await;
    let port = free_port();
    let mut daemon = spawn_supervised(&setup, port);
    let pids = setup.temp.path().join("pids");
    assert!(
        wait_until(CONVERGE, || port_answers(port)).await,
        "{}",
        daemon.log()
    );
    let group = lines(&pids);
    assert!(group.iter().all(|pid| running(pid)), "{group:?}");

    // Act
    let status = daemon.terminate().await.unwrap();

    // Assert
    assert!(status.success(), "{status:?}\n{}", daemon.log());
    for pid in &group {
        assert!(
            !running(pid),
            "process {pid} outlived the daemon\n{}",
            daemon.log()
        );
    }
    assert!(!port_answers(port));
}
