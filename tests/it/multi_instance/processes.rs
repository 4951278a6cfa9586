//! Three real `provisioner serve` processes on one PostgreSQL database:
//! each is ready (`/readyz`), one holds each background task's lease, and
//! when that one is killed with SIGKILL another takes the lease over within
//! two loop intervals.

use std::time::{Duration, Instant};

use preview_tests::provisioner::TestProvisioner;

use crate::postgres_support::fresh_database;

/// The loop interval the instances run with.
const INTERVAL: Duration = Duration::from_millis(500);

async fn holds_reaper_lease(instance: &TestProvisioner) -> bool {
    let Ok(response) = instance
        .client()
        .get(format!("{}/v1/status", instance.base_url()))
        .bearer_auth(instance.api_key())
        .send()
        .await
    else {
        return false;
    };
    let status: serde_json::Value = response.json().await.unwrap_or_default();
    status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|task| task["name"] == "idle_reaper" && task["leased"] == true)
}

#[tokio::test]
async fn killing_the_lease_holder_hands_its_task_to_another_instance_within_two_intervals() {
    // Arrange: three instances on one database, each ready.
    let url = fresh_database().await.unwrap();
    let interval = format!("{}ms", INTERVAL.as_millis());
    let args = [
        "--database-url",
        url.as_str(),
        "--loop-interval",
        interval.as_str(),
        "--allow-unsandboxed-previews",
    ];
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(TestProvisioner::spawn_with_args(&args).await.unwrap());
    }
    let mut store_ids = Vec::new();
    for instance in &instances {
        let ready = instance
            .client()
            .get(format!("{}/readyz", instance.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let body: serde_json::Value = ready.json().await.unwrap();
        store_ids.push(body["store_id"].as_str().unwrap().to_owned());
    }
    assert!(
        store_ids.iter().all(|id| *id == store_ids[0]),
        "one store: {store_ids:?}"
    );
    tokio::time::sleep(INTERVAL * 3).await;
    let mut holders = Vec::new();
    for (index, instance) in instances.iter().enumerate() {
        if holds_reaper_lease(instance).await {
            holders.push(index);
        }
    }
    assert_eq!(holders.len(), 1, "one lease holder: {holders:?}");

    // Act: SIGKILL the holder.
    let mut holder = instances.remove(holders[0]);
    holder.kill().await;
    let killed_at = Instant::now();

    // Assert: another instance holds it within two intervals (a tick's
    // status is recorded at the tick, so poll just past each one).
    let mut took_over = None;
    while killed_at.elapsed() < INTERVAL * 2 + Duration::from_millis(400) {
        for (index, instance) in instances.iter().enumerate() {
            if holds_reaper_lease(instance).await {
                took_over = Some((index, killed_at.elapsed()));
            }
        }
        if took_over.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, delay) = took_over.expect("no instance took the lease over in two intervals");
    println!("lease takeover after SIGKILL of its holder: {delay:?} (interval {INTERVAL:?})");
}

#[tokio::test]
async fn shutdown_hands_a_held_long_poll_back_with_a_retry_hint() {
    // Arrange: a daemon-style long-poll held on an instance.
    let mut instance = TestProvisioner::spawn_with_args(&["--allow-unsandboxed-previews"])
        .await
        .unwrap();
    assert_eq!(instance.put_file("held", "a.txt", "1").await.status(), 200);
    let poll = instance
        .client()
        .get(format!(
            "{}/v1/apps/held/files?since=1&wait=30",
            instance.base_url()
        ))
        .bearer_auth(instance.api_key())
        .send();
    let poll = tokio::spawn(poll);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Act: graceful shutdown (SIGTERM).
    let started = Instant::now();
    let exit = instance.terminate(Duration::from_secs(20)).await.unwrap();

    // Assert: the poll is answered at once, unchanged, with the hint.
    let answer = poll.await.unwrap().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(answer.status(), 304);
    assert_eq!(answer.headers()["retry-after"], "1");
    assert!(answer.headers().contains_key("x-store-id"));
}
