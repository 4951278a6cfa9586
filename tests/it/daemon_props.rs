//! Property: whatever tree and sequence of batches the server receives, the
//! daemon's directory ends equal to the manifest. One provisioner serves
//! every case (one app per case) to keep the run short.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use preview_tests::daemon::{Target, TestDaemon};
use preview_tests::provisioner::TestProvisioner;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::daemon::{apply_changes, apply_locally, converges_to};

type Changes = BTreeMap<String, Option<Vec<u8>>>;

/// Paths from a small alphabet so that edits, deletes and re-adds hit the
/// same files; directories and files never share a name.
fn path() -> impl Strategy<Value = String> {
    let dirs = prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3);
    let file = prop::sample::select(vec!["x.txt", "y.ts", "z.bin"]);
    (dirs, file).prop_map(|(dirs, file)| {
        let mut segments = dirs;
        segments.push(file);
        segments.join("/")
    })
}

/// Few distinct contents, so identical files (and renames) are common.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        Just(b"alpha".to_vec()),
        Just(vec![0, 159, 146, 150, 255]),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn changes() -> impl Strategy<Value = Changes> {
    prop::collection::btree_map(path(), prop::option::weighted(0.7, content()), 1..8)
}

#[test]
fn daemon_props_disk_ends_equal_to_the_manifest() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let provisioner = runtime
        .block_on(TestProvisioner::spawn())
        .expect("provisioner starts");
    let case = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        // Each case spawns a daemon; a failure is reported after a short
        // shrink instead of minutes of it.
        max_shrink_iters: 16,
        ..Config::default()
    });
    let strategy = (changes(), prop::collection::vec(changes(), 1..4));
    let result = runner.run(&strategy, |(initial, steps)| {
        let number = case.fetch_add(1, Ordering::Relaxed);
        runtime.block_on(run_case(&provisioner, number, initial, steps))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

async fn run_case(
    provisioner: &TestProvisioner,
    number: usize,
    initial: Changes,
    steps: Vec<Changes>,
) -> Result<(), TestCaseError> {
    let app = format!("prop-{number}");
    let token = provisioner
        .mint_sync_token(&app)
        .await
        .expect("token minted");
    let target = Target {
        server: provisioner.base_url(),
        app: app.clone(),
        token,
    };
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("app");
    let spawn = || TestDaemon::spawn(&target, &dir, &[], temp.path()).expect("daemon starts");
    // Odd cases start the daemon on an empty app, even ones after the first
    // batch: both live updates and an initial sync are exercised.
    let mut daemon = (number % 2 == 1).then(spawn);
    let mut model = BTreeMap::new();
    for mut changes in [initial].into_iter().chain(steps) {
        // The server refuses to delete what it does not have.
        changes.retain(|path, content| content.is_some() || model.contains_key(path));
        if changes.is_empty() {
            continue;
        }
        apply_locally(&mut model, &changes);
        apply_changes(provisioner, &app, &changes).await;
        let running = daemon.get_or_insert_with(spawn);
        converges_to(&dir, &model, &[], running).await;
    }
    // A graceful stop: the shared provisioner must not see requests torn
    // off mid-way by SIGKILL, and a clean exit is part of the property.
    if let Some(mut daemon) = daemon {
        let status = daemon.terminate().await.expect("daemon stops");
        prop_assert!(status.success(), "{status:?}\n{}", daemon.log());
    }
    Ok(())
}
