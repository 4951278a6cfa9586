//! A daemon killed at any point (SIGKILL: no shutdown, no last index save,
//! maybe mid-append or mid-compaction of its index log) recovers its
//! ownership record when it starts again: every file it wrote is still its
//! own (deleted when the server deletes it), and a file it did not write is
//! never taken for one, not even through a record torn by the kill.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::daemon::{as_changes, sample_tree, setup};

#[tokio::test]
async fn daemon_crash_a_daemon_killed_at_any_point_recovers_its_ownership_record() {
    // Arrange: a synced tree beside a file someone made locally.
    let setup = setup("crash").await;
    let mut tree = sample_tree(300, 7);
    setup.apply(&as_changes(&tree)).await;
    std::fs::create_dir_all(&setup.dir).unwrap();
    std::fs::write(setup.dir.join("mine.txt"), b"local").unwrap();
    let mut expected = tree.clone();
    expected.insert("mine.txt".to_owned(), b"local".to_vec());
    let mut daemon = setup.spawn_daemon(&[]);
    setup.converges_to(&expected, &[], &daemon).await;

    // Act: rounds of writes, deletes and adds, each followed by a kill at a
    // different moment (before, during and after the throttled index save).
    let paths: Vec<String> = tree.keys().cloned().collect();
    for round in 0..6usize {
        let mut changes = BTreeMap::new();
        for path in paths.iter().skip(round * 40).take(20) {
            changes.insert(path.clone(), Some(format!("round {round}").into_bytes()));
        }
        for path in paths.iter().skip(round * 40 + 20).take(10) {
            if tree.contains_key(path) {
                changes.insert(path.clone(), None);
            }
        }
        for number in 0..10 {
            changes.insert(
                format!("added/{round}/{number}.txt"),
                Some(vec![round as u8; number * 100]),
            );
        }
        setup.apply(&changes).await;
        for (path, content) in changes {
            match content {
                Some(bytes) => drop(tree.insert(path, bytes)),
                None => drop(tree.remove(&path)),
            }
        }
        tokio::time::sleep(Duration::from_millis(round as u64 * 250)).await;
        daemon.kill().await.unwrap();
        daemon = setup.spawn_daemon(&[]);
    }
    let mut expected = tree.clone();
    expected.insert("mine.txt".to_owned(), b"local".to_vec());
    setup.converges_to(&expected, &[], &daemon).await;

    // A kill tore the log's last record before its newline: a complete,
    // checksummed record claiming the local file.
    daemon.kill().await.unwrap();
    let state_dir = setup.temp.path().join(".app.sync");
    let mine = std::fs::symlink_metadata(setup.dir.join("mine.txt")).unwrap();
    let claim = format!(
        r#"{{"record":{{"path":"mine.txt","sha256":"{}","stamp":{{"size":{},"mtime_ns":{},"ino":{},"ctime_ns":{}}}}}}}"#,
        sync_protocol::sha256_hex(b"local"),
        mine.size(),
        mine.mtime() * 1_000_000_000 + mine.mtime_nsec(),
        mine.ino(),
        mine.ctime() * 1_000_000_000 + mine.ctime_nsec(),
    );
    let checksum = &sync_protocol::sha256_hex(claim.as_bytes())[..8];
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(state_dir.join("index.log"))
        .expect("the index log exists");
    write!(log, "{checksum} {claim}").unwrap();
    drop(log);

    // Assert: the server deletes everything; the daemon deletes every file
    // it wrote, across all its lives, and nothing else.
    let daemon = setup.spawn_daemon(&[]);
    let deletes = tree.keys().map(|path| (path.clone(), None)).collect();
    setup.apply(&deletes).await;
    let only_mine = BTreeMap::from([("mine.txt".to_owned(), b"local".to_vec())]);
    setup.converges_to(&only_mine, &[], &daemon).await;
    // Still so once the daemon has saved again after the torn record.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        preview_tests::daemon::read_tree(&setup.dir, &[]),
        only_mine,
        "{}",
        daemon.log()
    );
}
