//! How the daemon asks: long-poll across a provisioner restart, plain
//! conditional polling, and what an idle daemon costs.

use std::collections::BTreeMap;
use std::time::Duration;

use preview_tests::daemon::{Relay, wait_until};

use crate::daemon::{CONVERGE, setup};

#[tokio::test]
async fn a_provisioner_restart_mid_poll_is_survived() {
    let mut setup = setup("restart").await;
    let relay = Relay::start(setup.provisioner.address()).await.unwrap();
    setup.target.server = relay.url();
    setup
        .apply(&[("before.txt".to_owned(), Some(b"1".to_vec()))].into())
        .await;
    let daemon = setup.spawn_daemon(&[]);
    let expected: BTreeMap<String, Vec<u8>> = [("before.txt".to_owned(), b"1".to_vec())].into();
    setup.converges_to(&expected, &[], &daemon).await;

    // Act: the daemon is holding a long-poll when the provisioner dies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    setup.provisioner.kill().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    setup.provisioner.restart().await.unwrap();
    relay.point_at(setup.provisioner.address());
    setup
        .apply(&[("after.txt".to_owned(), Some(b"2".to_vec()))].into())
        .await;

    // Assert
    let mut expected = expected;
    expected.insert("after.txt".to_owned(), b"2".to_vec());
    setup.converges_to(&expected, &[], &daemon).await;
    assert!(
        daemon.log().contains("retrying"),
        "the outage was logged:\n{}",
        daemon.log()
    );
}

#[tokio::test]
async fn plain_polling_converges_within_an_interval() {
    let setup = setup("polling").await;
    setup
        .apply(&[("one.txt".to_owned(), Some(b"1".to_vec()))].into())
        .await;
    let daemon = setup.spawn_daemon(&["--no-long-poll", "--interval", "200ms"]);
    let mut expected: BTreeMap<String, Vec<u8>> = [("one.txt".to_owned(), b"1".to_vec())].into();
    setup.converges_to(&expected, &[], &daemon).await;

    setup
        .apply(&[("two.txt".to_owned(), Some(b"2".to_vec()))].into())
        .await;
    expected.insert("two.txt".to_owned(), b"2".to_vec());
    let started = std::time::Instant::now();
    setup.converges_to(&expected, &[], &daemon).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_daemon_sends_one_request_per_interval_and_touches_nothing() {
    let setup = setup("idle").await;
    setup
        .apply(&[("a.txt".to_owned(), Some(b"a".to_vec()))].into())
        .await;
    let daemon = setup.spawn_daemon(&["--no-long-poll", "--interval", "200ms"]);
    let index = setup.temp.path().join(".app.sync/index.json");
    assert!(wait_until(CONVERGE, || index.is_file()).await);
    let saved = std::fs::metadata(&index).unwrap().modified().unwrap();
    let requests = || daemon.log().matches("manifest request").count();
    let before = requests();

    // Act: stay idle for ten intervals.
    tokio::time::sleep(Duration::from_millis(2000)).await;

    // Assert: about one conditional request per interval, all `?since=N` answered 304
    // (nothing was applied), and the daemon's state was not rewritten.
    let sent = requests() - before;
    assert!((3..=11).contains(&sent), "{sent} requests in 10 intervals");
    assert_eq!(daemon.log().matches("Since {").count(), requests() - 1);
    assert_eq!(
        daemon.log().matches("applied").count(),
        1,
        "{}",
        daemon.log()
    );
    assert_eq!(
        std::fs::metadata(&index).unwrap().modified().unwrap(),
        saved
    );
}
