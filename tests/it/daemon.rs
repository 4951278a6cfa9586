//! The real `sync-daemon` against the real `provisioner`: the shared setup,
//! then initial sync, edits, deletes, renames, a 500-change batch and no
//! needless rewrites. Local files, symlinks and fatal errors are in
//! `daemon_local`, polling and restarts in `daemon_polling`, supervision in
//! `daemon_supervise`, the property test in `daemon_props`.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use preview_tests::daemon::{Target, TestDaemon, read_tree, wait_until};
use preview_tests::provisioner::TestProvisioner;
use sync_protocol::{BatchChange, BatchRequest};
use tempfile::TempDir;

/// How long any convergence may take before a test fails.
pub(crate) const CONVERGE: Duration = Duration::from_secs(20);
/// Directories the daemon must never touch; excluded when comparing trees.
pub(crate) const LOCAL_ONLY: &[&str] = &["node_modules", ".next"];

pub(crate) struct Setup {
    pub provisioner: TestProvisioner,
    pub target: Target,
    pub temp: TempDir,
    pub dir: PathBuf,
}

pub(crate) async fn setup(app: &str) -> Setup {
    let provisioner = TestProvisioner::spawn().await.expect("provisioner starts");
    let token = provisioner
        .mint_sync_token(app)
        .await
        .expect("token minted");
    let target = Target {
        server: provisioner.base_url(),
        app: app.to_owned(),
        token,
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("app");
    Setup {
        provisioner,
        target,
        temp,
        dir,
    }
}

impl Setup {
    pub fn spawn_daemon(&self, args: &[&str]) -> TestDaemon {
        TestDaemon::spawn(&self.target, &self.dir, args, self.temp.path()).expect("daemon starts")
    }

    /// Applies `changes` (path → Some(content) or None to delete) in one revision.
    pub async fn apply(&self, changes: &BTreeMap<String, Option<Vec<u8>>>) {
        apply_changes(&self.provisioner, &self.target.app, changes).await;
    }

    /// Waits until the synced part of the tree equals `expected`.
    pub async fn converges_to(
        &self,
        expected: &BTreeMap<String, Vec<u8>>,
        skip: &[&str],
        daemon: &TestDaemon,
    ) {
        converges_to(&self.dir, expected, skip, daemon).await;
    }
}

pub(crate) async fn apply_changes(
    provisioner: &TestProvisioner,
    app: &str,
    changes: &BTreeMap<String, Option<Vec<u8>>>,
) {
    let changes = changes
        .iter()
        .map(|(path, content)| match content {
            Some(bytes) => BatchChange {
                path: path.clone(),
                content_base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                ..BatchChange::default()
            },
            None => BatchChange {
                path: path.clone(),
                delete: Some(true),
                ..BatchChange::default()
            },
        })
        .collect();
    let request = BatchRequest { changes };
    // 503 means "retry shortly" in the API; a busy CI machine may see it.
    for _ in 0..3 {
        let response = provisioner.batch(app, &request).await;
        if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        assert!(
            response.status().is_success(),
            "batch refused: {}",
            response.text().await.unwrap_or_default()
        );
        return;
    }
    panic!("the provisioner stayed unavailable");
}

/// Waits until the tree under `dir` (minus `skip`) equals `expected`.
pub(crate) async fn converges_to(
    dir: &Path,
    expected: &BTreeMap<String, Vec<u8>>,
    skip: &[&str],
    daemon: &TestDaemon,
) {
    let converged = wait_until(CONVERGE, || read_tree(dir, skip) == *expected).await;
    if !converged {
        let actual = read_tree(dir, skip);
        let wrong: Vec<_> = expected
            .keys()
            .filter(|k| actual.get(*k) != expected.get(*k))
            .take(5)
            .collect();
        let extra: Vec<_> = actual
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .take(5)
            .collect();
        panic!(
            "tree did not converge: wrong or missing {wrong:?}, extra {extra:?}\n--- daemon log ---\n{}",
            daemon.log()
        );
    }
}

/// `count` files over nested directories, with binary and empty ones among them.
pub(crate) fn sample_tree(count: usize, salt: u8) -> BTreeMap<String, Vec<u8>> {
    (0..count)
        .map(|i| {
            let path = format!(
                "dir{}/sub{}/file{i}.{}",
                i % 7,
                i % 3,
                ["ts", "css", "bin", "txt"][i % 4]
            );
            let content = match i % 10 {
                0 => Vec::new(),
                1 => (0..=255u8).map(|b| b ^ salt).chain([0, 0, 0xff]).collect(),
                _ => format!("export const value{i} = {salt};\n")
                    .repeat(1 + i % 5)
                    .into_bytes(),
            };
            (path, content)
        })
        .collect()
}

pub(crate) fn as_changes(tree: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Option<Vec<u8>>> {
    tree.iter()
        .map(|(path, content)| (path.clone(), Some(content.clone())))
        .collect()
}

/// Inode and mtime of every file: equal before and after means nothing was rewritten.
fn identities(dir: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    read_tree(dir, LOCAL_ONLY)
        .into_keys()
        .map(|path| {
            let metadata = std::fs::metadata(dir.join(&path)).unwrap();
            let identity = (metadata.ino(), metadata.mtime(), metadata.mtime_nsec());
            (path, identity)
        })
        .collect()
}

#[tokio::test]
async fn daemon_syncs_a_tree_of_hundreds_of_files_exactly() {
    // Arrange
    let setup = setup("tree").await;
    let tree = sample_tree(300, 1);
    setup.apply(&as_changes(&tree)).await;

    // Act
    let daemon = setup.spawn_daemon(&[]);

    // Assert
    setup.converges_to(&tree, &[], &daemon).await;
    assert!(tree.values().any(Vec::is_empty) && tree.values().any(|c| c.contains(&0)));
    let state_dir = setup.temp.path().join(".app.sync");
    assert!(
        wait_until(CONVERGE, || state_dir.join("index.json").is_file()).await,
        "state lives beside the tree"
    );
    assert!(
        !daemon.log().contains(&setup.target.token),
        "the token is never logged"
    );
}

#[tokio::test]
async fn daemon_converges_edits_deletes_renames_and_a_batch_of_500_changes() {
    let setup = setup("edits").await;
    let mut tree = sample_tree(220, 2);
    setup.apply(&as_changes(&tree)).await;
    let daemon = setup.spawn_daemon(&[]);
    setup.converges_to(&tree, &[], &daemon).await;

    // Edits, deletes and renames (delete + add of the same content) in one revision.
    let mut changes = BTreeMap::new();
    let paths: Vec<String> = tree.keys().cloned().collect();
    for path in &paths[0..5] {
        changes.insert(path.clone(), Some(b"edited".to_vec()));
    }
    for path in &paths[5..10] {
        changes.insert(path.clone(), None);
    }
    for path in &paths[10..15] {
        let content = tree[path].clone();
        changes.insert(path.clone(), None);
        changes.insert(format!("renamed/{path}"), Some(content));
    }
    apply_locally(&mut tree, &changes);
    setup.apply(&changes).await;
    setup.converges_to(&tree, &[], &daemon).await;

    // 500 changes in one batch: 300 new files, 150 edits, 50 deletes.
    let mut batch = as_changes(
        &sample_tree(300, 3)
            .into_iter()
            .map(|(p, c)| (format!("big/{p}"), c))
            .collect(),
    );
    let current: Vec<String> = tree.keys().cloned().collect();
    for (i, path) in current.iter().enumerate().take(200) {
        batch.insert(
            path.clone(),
            if i < 50 {
                None
            } else {
                Some(format!("again {i}").into_bytes())
            },
        );
    }
    assert_eq!(batch.len(), 500);
    apply_locally(&mut tree, &batch);
    setup.apply(&batch).await;
    setup.converges_to(&tree, &[], &daemon).await;
}

pub(crate) fn apply_locally(
    tree: &mut BTreeMap<String, Vec<u8>>,
    changes: &BTreeMap<String, Option<Vec<u8>>>,
) {
    for (path, content) in changes {
        match content {
            Some(bytes) => drop(tree.insert(path.clone(), bytes.clone())),
            None => drop(tree.remove(path)),
        }
    }
}

#[tokio::test]
async fn an_unchanged_tree_is_not_rewritten() {
    let setup = setup("steady").await;
    let tree = sample_tree(120, 4);
    setup.apply(&as_changes(&tree)).await;
    let (status, output) = TestDaemon::run_once(&setup.target, &setup.dir, &[])
        .await
        .unwrap();
    assert!(status.success(), "{output}");
    assert_eq!(read_tree(&setup.dir, &[]), tree);
    let before = identities(&setup.dir);

    // Act: converge again with the index, then again without it (hashes decide).
    let (status, output) = TestDaemon::run_once(&setup.target, &setup.dir, &[])
        .await
        .unwrap();
    assert!(status.success(), "{output}");
    assert_eq!(
        identities(&setup.dir),
        before,
        "second --once rewrote files"
    );
    std::fs::remove_file(setup.temp.path().join(".app.sync/index.json")).unwrap();
    let (status, output) = TestDaemon::run_once(&setup.target, &setup.dir, &[])
        .await
        .unwrap();
    assert!(status.success(), "{output}");
    assert_eq!(
        identities(&setup.dir),
        before,
        "--once without an index rewrote files"
    );

    // One change rewrites one file only.
    let daemon = setup.spawn_daemon(&[]);
    let changed = tree.keys().next().unwrap().clone();
    setup
        .apply(&[(changed.clone(), Some(b"new".to_vec()))].into())
        .await;
    assert!(
        wait_until(CONVERGE, || std::fs::read(setup.dir.join(&changed))
            .ok()
            .as_deref()
            == Some(b"new"))
        .await
    );
    let after = identities(&setup.dir);
    let rewritten: Vec<&String> = after
        .keys()
        .filter(|path| after[*path] != before[*path])
        .collect();
    assert_eq!(rewritten, [&changed], "{}", daemon.log());
}
