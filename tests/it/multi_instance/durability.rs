//! SIGKILL an instance at random moments during a stream of 1,000 writes
//! spread over every instance: once restarted, every write answered 2xx is
//! there with its exact content. For PostgreSQL (three instances behind the
//! round-robin proxy) and SQLite (its one instance).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use preview_tests::provisioner::TestProvisioner;

use super::Operator;
use super::proxy::RoundRobin;
use crate::postgres_support::fresh_database;

const WRITES: usize = 1000;
const WRITERS: usize = 8;
const APP: &str = "durable";

/// Runs the writes while killing and restarting instances; returns the
/// acknowledged writes (path → content) and how many kills there were.
async fn writes_under_kills(
    instances: &mut [TestProvisioner],
) -> (BTreeMap<String, String>, usize, Operator) {
    let key = instances[0].api_key().to_owned();
    let proxy = RoundRobin::start(instances.iter().map(TestProvisioner::address).collect()).await;
    let operator = Arc::new(Operator::new(&proxy.url(), &key));
    let next = Arc::new(AtomicUsize::new(0));
    let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (operator, next, acknowledged) =
                (operator.clone(), next.clone(), acknowledged.clone());
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= WRITES {
                        break;
                    }
                    let path = format!("w/{index:04}.txt");
                    let content = format!("write {index} {:016x}", rand::random::<u64>());
                    match operator.put(APP, &path, &content).await {
                        Ok(_) => {
                            acknowledged.lock().unwrap().insert(path, content);
                        }
                        // An instance restarting: not acknowledged, and no reason to rush.
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            })
        })
        .collect();
    let mut kills = 0;
    while next.load(Ordering::Relaxed) < WRITES {
        tokio::time::sleep(Duration::from_millis(100 + rand::random::<u64>() % 200)).await;
        let victim = rand::random::<u32>() as usize % instances.len();
        instances[victim].restart().await.unwrap();
        kills += 1;
        proxy.point_at(instances.iter().map(TestProvisioner::address).collect());
    }
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(60), writer)
            .await
            .unwrap()
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    // The proxy dies with this scope: read through an instance.
    let reader = Operator::new(&instances[0].base_url(), &key);
    (acknowledged, kills, reader)
}

async fn assert_none_lost(instances: &mut [TestProvisioner], backend: &str) {
    let (acknowledged, kills, reader) = writes_under_kills(instances).await;
    let manifest = reader.manifest(APP).await.unwrap();
    let stored: BTreeMap<String, String> = manifest
        .files
        .iter()
        .map(|file| (file.path.to_string(), file.sha256.clone()))
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|(path, content)| {
            stored.get(*path) != Some(&sync_protocol::sha256_hex(content.as_bytes()))
        })
        .map(|(path, _)| path)
        .collect();
    println!(
        "{backend}: {} of {WRITES} writes acknowledged under {kills} SIGKILLs, {} lost",
        acknowledged.len(),
        lost.len()
    );
    assert!(kills > 0 && !acknowledged.is_empty());
    assert!(
        lost.is_empty(),
        "{backend}: acknowledged writes lost: {lost:?}"
    );
}

#[tokio::test]
async fn no_acknowledged_write_is_lost_when_instances_on_postgres_are_killed() {
    let url = fresh_database().await.unwrap();
    let args = [
        "--database-url",
        url.as_str(),
        "--allow-unsandboxed-previews",
    ];
    let key = format!("test-key-{}", rand::random::<u64>());
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(TestProvisioner::spawn_with_key(&key, &args).await.unwrap());
    }
    assert_none_lost(&mut instances, "postgres, 3 instances").await;
}

#[tokio::test]
async fn no_acknowledged_write_is_lost_when_the_sqlite_instance_is_killed() {
    let mut instances = vec![
        TestProvisioner::spawn_with_args(&["--allow-unsandboxed-previews"])
            .await
            .unwrap(),
    ];
    assert_none_lost(&mut instances, "sqlite, 1 instance").await;
}
