//! A new, empty store behind the same URL: revisions restart at 1 there, so
//! the `since` a daemon holds means nothing. The store's identity, in every
//! manifest answer, makes the daemon fetch the new store's full manifest.

use std::collections::BTreeMap;
use std::time::Duration;

use preview_tests::launch::ServeCommand;
use provisioner::store::{SqliteStore, SyncTokenStore};
use sync_protocol::SyncToken;

use super::Operator;
use super::proxy::RoundRobin;
use crate::daemon::{apply_changes, setup};

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, Option<Vec<u8>>> {
    entries
        .iter()
        .map(|(path, content)| ((*path).to_owned(), Some(content.as_bytes().to_vec())))
        .collect()
}

#[tokio::test]
async fn a_daemon_behind_the_same_url_converges_in_full_on_a_new_empty_store() {
    // Arrange: the daemon has applied revision 2 (a.txt, b.txt) of the first store.
    let setup = setup("identity").await;
    let proxy = RoundRobin::start(vec![setup.provisioner.address()]).await;
    let mut target = setup.target.clone();
    target.server = proxy.url();
    apply_changes(&setup.provisioner, "identity", &files(&[("a.txt", "1")])).await;
    apply_changes(&setup.provisioner, "identity", &files(&[("b.txt", "1")])).await;
    let daemon =
        preview_tests::daemon::TestDaemon::spawn(&target, &setup.dir, &[], setup.temp.path())
            .unwrap();
    let first: BTreeMap<String, Vec<u8>> = [("a.txt", "1"), ("b.txt", "1")]
        .iter()
        .map(|(path, content)| ((*path).to_owned(), content.as_bytes().to_vec()))
        .collect();
    setup.converges_to(&first, &[], &daemon).await;

    // A second provisioner on a new, empty store that knows the daemon's
    // token, where the app reaches revision 4 with other files.
    let new_data = tempfile::tempdir().unwrap();
    let seeded = SqliteStore::open(new_data.path()).await.unwrap();
    let token = SyncToken::parse(&target.token).unwrap();
    seeded
        .add_sync_token(token.app_id(), &token.digest())
        .await
        .unwrap();
    seeded.close().await;
    let mut command = ServeCommand::new(new_data.path());
    command.api_key = Some(setup.provisioner.api_key().to_owned());
    let mut second = command.start().await.unwrap();
    let second_address = second.address;
    let writer = Operator::new(
        &format!("http://{second_address}"),
        setup.provisioner.api_key(),
    );
    for (path, content) in [
        ("c.txt", "new"),
        ("d.txt", "new"),
        ("a.txt", "2"),
        ("f.txt", "new"),
    ] {
        writer.put("identity", path, content).await.unwrap();
    }

    let old = Operator::new(&setup.provisioner.base_url(), setup.provisioner.api_key());
    let (old_store, new_store) = (
        old.manifest("identity").await.unwrap().store_id,
        writer.manifest("identity").await.unwrap().store_id,
    );
    assert!(!old_store.is_empty() && !new_store.is_empty());
    assert_ne!(old_store, new_store, "each store has its own identity");

    // Act: the proxy now leads to the new store; a deletion on the first
    // one (nothing to download) answers the daemon's held long-poll, so its
    // next request (since=3) is the first it sends to the new store, and
    // no request failed.
    proxy.point_at(vec![second_address]);
    let deletion = [("b.txt".to_owned(), None)].into();
    apply_changes(&setup.provisioner, "identity", &deletion).await;

    // Assert: the new store's files exactly, where a delta since 3 would
    // have brought f.txt alone.
    let expected: BTreeMap<String, Vec<u8>> = [
        ("a.txt", "2"),
        ("c.txt", "new"),
        ("d.txt", "new"),
        ("f.txt", "new"),
    ]
    .iter()
    .map(|(path, content)| ((*path).to_owned(), content.as_bytes().to_vec()))
    .collect();
    setup.converges_to(&expected, &[], &daemon).await;
    assert!(
        daemon.log().contains("another store"),
        "the change of store was noticed, not a failure:\n{}",
        daemon.log()
    );
    let _ = second.child.kill().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}
