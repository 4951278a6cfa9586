//! The background loops against the emulator: the TTL sweeper, and the
//! reconciler replacing a lost machine and destroying an orphan while
//! leaving apps that are not ours alone.

use std::time::Duration;

use preview_tests::fly_emulator::FlyEmulator;
use preview_tests::lifecycle_client::running_preview;
use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;

use super::json;

#[tokio::test]
async fn lifecycle_ttl_sweeper_destroys_the_app_and_keeps_the_files() {
    // Arrange
    let args = [
        "--delete-after",
        "1s",
        "--idle-timeout",
        "1h",
        "--loop-interval",
        "200ms",
    ];
    let (fly, provisioner) = running_preview("shop", &args).await;
    provisioner
        .put_file("shop", "index.html", "<h1>kept</h1>")
        .await;

    // Act
    provisioner
        .wait_for_state("shop", "deleted", Duration::from_secs(10))
        .await
        .unwrap();
    let apps_after_sweep = fly.app_names();
    let reprovisioned = provisioner.provision_preview("shop", true).await;

    // Assert
    assert!(apps_after_sweep.is_empty(), "{apps_after_sweep:?}");
    assert_eq!(reprovisioned.status(), StatusCode::OK);
    let manifest = provisioner
        .request(reqwest::Method::GET, "/v1/apps/shop/files")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(manifest).await["files"].as_array().unwrap().len(),
        1,
        "files are kept"
    );
}

#[tokio::test]
async fn lifecycle_reconciler_replaces_a_lost_machine() {
    // Arrange
    let (fly, provisioner) = running_preview("shop", &["--loop-interval", "200ms"]).await;
    let lost = fly.live_machines("preview-shop")[0].id.clone();

    // Act: the machine disappears behind the provisioner's back.
    assert!(fly.set_machine_state("preview-shop", &lost, "destroyed"));
    let mut replaced = Vec::new();
    for _ in 0..100 {
        replaced = fly.live_machines("preview-shop");
        if replaced.iter().any(|machine| machine.state == "started") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    provisioner
        .wait_for_state("shop", "running", Duration::from_secs(10))
        .await
        .unwrap();

    // Assert
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_ne!(replaced[0].id, lost);
    assert_eq!(replaced[0].state, "started");
    assert!(
        fly.rejected_calls().is_empty(),
        "{:?}",
        fly.rejected_calls()
    );
}

#[tokio::test]
async fn lifecycle_reconciler_destroys_orphans_but_not_foreign_apps() {
    // Arrange: a preview made by a provisioner whose store is then lost, and
    // an app someone else made in the same organisation.
    let fly = FlyEmulator::start().await;
    let first = TestProvisioner::spawn_on_fly(&fly, &["--loop-interval", "1h"])
        .await
        .unwrap();
    assert_eq!(
        first.provision_preview("orphan", true).await.status(),
        StatusCode::OK
    );
    drop(first);
    fly.insert_app("someone-elses-app", "personal");

    // Act
    let second = TestProvisioner::spawn_on_fly(&fly, &["--loop-interval", "200ms"])
        .await
        .unwrap();
    let mut names = fly.app_names();
    for _ in 0..100 {
        names = fly.app_names();
        if !names.iter().any(|name| name == "preview-orphan") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Assert
    assert_eq!(names, vec!["someone-elses-app".to_owned()]);
    assert!(second.list_previews(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn lifecycle_status_shows_each_background_task_after_it_ran_and_needs_the_operator_key() {
    // Arrange
    let fly = FlyEmulator::start().await;
    let provisioner = TestProvisioner::spawn_on_fly(&fly, &["--loop-interval", "200ms"])
        .await
        .unwrap();

    // Act: wait until every task has run at least twice.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        let response = provisioner
            .request(reqwest::Method::GET, "/v1/status")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let status = json(response).await;
        let ran = status["tasks"].as_array().is_some_and(|tasks| {
            tasks.len() == 3 && tasks.iter().all(|t| t["runs"].as_u64() >= Some(2))
        });
        if ran || tokio::time::Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let anonymous = provisioner
        .client()
        .get(format!("{}/v1/status", provisioner.base_url()))
        .send()
        .await
        .unwrap();
    let metrics = provisioner.metrics().await.text().await.unwrap();

    // Assert
    assert_eq!(status["driver"], "fly", "{status}");
    let names: Vec<&str> = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["idle_reaper", "reconciler", "ttl_sweeper"],
        "{status}"
    );
    for task in status["tasks"].as_array().unwrap() {
        assert!(task["runs"].as_u64() >= Some(2), "{task}");
        assert!(task["last_started_at"].is_string(), "{task}");
        assert_eq!(task["last_error"], serde_json::Value::Null, "{task}");
        assert_eq!(task["period_ms"], 200, "{task}");
    }
    let reconciler = &status["tasks"][1]["last_summary"];
    assert!(reconciler["previews"].is_u64(), "{reconciler}");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        metrics.contains("provisioner_task_runs_total{task=\"reconciler\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("provisioner_task_last_summary{task=\"reconciler\",field=\"previews\"} 0"),
        "{metrics}"
    );
}
