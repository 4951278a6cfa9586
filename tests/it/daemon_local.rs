//! The daemon and files it did not write: untracked local files,
//! `node_modules/`, symlinks on disk, local edits of synced files, a state
//! dir on another filesystem, and the fatal errors.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use preview_tests::daemon::{TestDaemon, wait_until};

use crate::daemon::{CONVERGE, LOCAL_ONLY, apply_locally, as_changes, sample_tree, setup};

#[tokio::test]
async fn untracked_local_files_and_node_modules_survive() {
    // Arrange: local files the daemon did not write, one at a path the server has.
    let setup = setup("local").await;
    for (path, content) in [
        ("notes.txt", "mine"),
        ("node_modules/pkg/index.js", "module.exports = 1"),
        (".next/cache/entry", "build"),
        ("src/conflict.ts", "local version"),
    ] {
        let path = setup.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let server: BTreeMap<String, Vec<u8>> = [("src/conflict.ts", "server version"), ("a.txt", "a")]
        .map(|(p, c)| (p.to_owned(), c.into()))
        .into();
    setup.apply(&as_changes(&server)).await;

    // Act
    let daemon = setup.spawn_daemon(&[]);
    let mut expected = server.clone();
    expected.insert("notes.txt".to_owned(), b"mine".to_vec());
    setup.converges_to(&expected, LOCAL_ONLY, &daemon).await;
    setup
        .apply(
            &[
                ("src/conflict.ts".to_owned(), None),
                ("a.txt".to_owned(), None),
            ]
            .into(),
        )
        .await;
    let only_local: BTreeMap<String, Vec<u8>> = [("notes.txt".to_owned(), b"mine".to_vec())].into();
    setup.converges_to(&only_local, LOCAL_ONLY, &daemon).await;

    // Assert: the server's version replaced the local one, which was kept aside.
    let displaced = setup
        .temp
        .path()
        .join(".app.sync/displaced/src/conflict.ts");
    assert_eq!(std::fs::read_to_string(displaced).unwrap(), "local version");
    assert!(
        daemon.log().contains("did not write"),
        "the replacement is logged"
    );
    assert_eq!(
        std::fs::read_to_string(setup.dir.join("node_modules/pkg/index.js")).unwrap(),
        "module.exports = 1"
    );
    assert_eq!(
        std::fs::read_to_string(setup.dir.join(".next/cache/entry")).unwrap(),
        "build"
    );
}

#[tokio::test]
async fn a_symlink_on_disk_cannot_redirect_a_write_outside_the_tree() {
    let setup = setup("symlink").await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(&setup.dir).unwrap();
    std::os::unix::fs::symlink(outside.path(), setup.dir.join("src")).unwrap();
    setup
        .apply(
            &[
                ("src/evil.ts".to_owned(), Some(b"x".to_vec())),
                ("ok.txt".to_owned(), Some(b"ok".to_vec())),
            ]
            .into(),
        )
        .await;

    let daemon = setup.spawn_daemon(&[]);
    let expected: BTreeMap<String, Vec<u8>> = [("ok.txt".to_owned(), b"ok".to_vec())].into();
    setup.converges_to(&expected, &["src"], &daemon).await;

    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written through the link"
    );
    assert!(daemon.log().contains("refusing"), "{}", daemon.log());
}

#[tokio::test]
async fn a_locally_edited_synced_file_is_restored_when_it_next_changes() {
    let setup = setup("edited").await;
    setup
        .apply(&[("a.txt".to_owned(), Some(b"server 1".to_vec()))].into())
        .await;
    let daemon = setup.spawn_daemon(&[]);
    assert!(wait_until(CONVERGE, || setup.dir.join("a.txt").exists()).await);

    std::fs::write(setup.dir.join("a.txt"), b"local edit").unwrap();
    assert!(
        wait_until(CONVERGE, || daemon.log().contains("changed locally")).await,
        "{}",
        daemon.log()
    );
    setup
        .apply(&[("a.txt".to_owned(), Some(b"server 2".to_vec()))].into())
        .await;

    assert!(
        wait_until(CONVERGE, || std::fs::read(setup.dir.join("a.txt"))
            .ok()
            .as_deref()
            == Some(b"server 2"))
        .await,
        "{}",
        daemon.log()
    );
}

#[tokio::test]
async fn a_bad_token_or_an_unusable_dir_exits_non_zero_with_a_clear_message() {
    let setup = setup("fatal").await;
    let mut wrong = setup.target.clone();
    wrong.token = format!("st1.fatal.{}", "0".repeat(64));
    let (status, output) = TestDaemon::run_once(&wrong, &setup.dir, &[]).await.unwrap();
    assert!(!status.success());
    assert!(output.contains("refused the sync token"), "{output}");
    assert!(!output.contains(&wrong.token), "the token is never printed");

    let file = setup.temp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let (status, output) = TestDaemon::run_once(&setup.target, &file.join("app"), &[])
        .await
        .unwrap();
    assert!(!status.success());
    assert!(output.contains("not writable"), "{output}");
}

#[tokio::test]
async fn a_state_dir_on_another_filesystem_stages_beside_the_targets() {
    // /dev/shm is a tmpfs, so it is another device than the temp dir's disk;
    // when it is not, this test checks the ordinary path, which also must hold.
    let setup = setup("crossdev").await;
    let state = tempfile::tempdir_in("/dev/shm").unwrap();
    let tree = sample_tree(40, 5);
    setup.apply(&as_changes(&tree)).await;
    let state_dir = state.path().to_str().unwrap().to_owned();

    let daemon = setup.spawn_daemon(&["--state-dir", &state_dir]);
    setup.converges_to(&tree, &[], &daemon).await;
    let mut edits = as_changes(&sample_tree(40, 6));
    edits.insert("fresh/dir/new.css".to_owned(), Some(b"a{}".to_vec()));
    let mut expected = tree.clone();
    apply_locally(&mut expected, &edits);
    setup.apply(&edits).await;

    // Assert: exact tree, so no temporary `.name.N.sync~` file was left behind.
    setup.converges_to(&expected, &[], &daemon).await;
    let devices_differ = std::fs::metadata(state.path()).unwrap().dev()
        != std::fs::metadata(setup.temp.path()).unwrap().dev();
    assert_eq!(
        daemon.log().contains("another filesystem"),
        devices_differ,
        "{}",
        daemon.log()
    );
}
