//! Three lifecycle services on one PostgreSQL database, as three instances
//! hold them (each its own store handle and advisory-lock connections), over
//! one in-memory platform that counts every call: what runs once across the
//! instances and what each of them may do alone.

use std::sync::Arc;
use std::time::Duration;

use provisioner::lifecycle::app_files::StoreAppFiles;
use provisioner::lifecycle::clock::{Clock, ManualClock, SystemClock};
use provisioner::lifecycle::driver::StopMode;
use provisioner::lifecycle::memory_driver::MemoryDriver;
use provisioner::lifecycle::tasks;
use provisioner::lifecycle::{Autostop, LifecycleConfig, LifecycleService, PreviewState};
use provisioner::store::PostgresStore;
use sync_protocol::AppId;

use crate::postgres_support::fresh_database;

struct Instances {
    services: Vec<Arc<LifecycleService>>,
    stores: Vec<PostgresStore>,
    driver: Arc<MemoryDriver>,
    clock: Arc<ManualClock>,
}

async fn three_instances(driver: MemoryDriver) -> Instances {
    let url = fresh_database().await.unwrap();
    let driver = Arc::new(driver);
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let mut services = Vec::new();
    let mut stores = Vec::new();
    for _ in 0..3 {
        let store = PostgresStore::open(&url).await.unwrap();
        let mut config = LifecycleConfig::new("http://127.0.0.1:1".to_owned());
        config.autostop = Autostop::Stop;
        config.idle_timeout = Duration::from_secs(600);
        services.push(LifecycleService::coordinated(
            driver.clone(),
            Arc::new(store.clone()),
            Arc::new(StoreAppFiles {
                files: Arc::new(store.clone()),
                tokens: Arc::new(store.clone()),
                imports: Arc::new(store.clone()),
            }),
            clock.clone(),
            config,
            Arc::new(store.coordination()),
        ));
        stores.push(store);
    }
    Instances {
        services,
        stores,
        driver,
        clock,
    }
}

impl Instances {
    /// Provisions `count` previews through the first instance and lets them go idle.
    async fn idle_previews(&self, count: usize) -> Vec<AppId> {
        let mut apps = Vec::new();
        for index in 0..count {
            let app_id = AppId::parse(&format!("app-{index}")).unwrap();
            let record = self.services[0]
                .provision(&app_id)
                .await
                .unwrap()
                .await
                .unwrap();
            assert_eq!(record.state, PreviewState::Running);
            apps.push(app_id);
        }
        self.clock.advance(Duration::from_secs(3600));
        apps
    }
}

#[tokio::test]
async fn a_hundred_concurrent_wakes_over_three_instances_make_one_start() {
    // Arrange: a stopped preview; starting takes a while, so wakes pile up.
    let instances =
        three_instances(MemoryDriver::with_start_delay(Duration::from_millis(300))).await;
    let app_id = instances.idle_previews(1).await.remove(0);
    let slept = instances.services[1]
        .put_to_sleep_if_idle(&app_id, StopMode::Stop)
        .await
        .unwrap();
    assert!(slept);
    let starts_before = instances.driver.calls("start");

    // Act: 100 wakes, spread over the three instances, all at once.
    let wakes = (0..100).map(|index| {
        let service = instances.services[index % 3].clone();
        let app_id = app_id.clone();
        async move {
            service
                .wake(&app_id)
                .await?
                .await
                .map_err(provisioner::lifecycle::unshare)
        }
    });
    let outcomes = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(wakes))
        .await
        .expect("the wakes finished");

    // Assert
    for outcome in outcomes {
        assert_eq!(outcome.unwrap().state, PreviewState::Running);
    }
    assert_eq!(
        instances.driver.calls("start") - starts_before,
        1,
        "one start on the platform for 100 wakes on three instances"
    );
    for service in &instances.services {
        assert_eq!(
            service.get(&app_id).await.unwrap().state,
            PreviewState::Running
        );
    }
}

#[tokio::test]
async fn each_background_pass_acts_once_per_preview_and_one_instance_holds_each_task() {
    // Arrange: ten idle previews, and every instance running its loops.
    let instances = three_instances(MemoryDriver::new()).await;
    let apps = instances.idle_previews(10).await;
    let stops_before = instances.driver.calls("stop");
    let period = Duration::from_millis(100);
    let mut loops: Vec<_> = instances
        .services
        .iter()
        .map(|service| tasks::spawn_all(service, period))
        .collect();

    // Act: let each instance tick a few times.
    let all_stopped = preview_tests::daemon::wait_until(Duration::from_secs(20), || {
        instances.driver.calls("stop") - stops_before >= apps.len()
    })
    .await;
    tokio::time::sleep(period * 5).await;

    // Assert
    assert!(all_stopped, "the idle previews were stopped");
    assert_eq!(
        instances.driver.calls("stop") - stops_before,
        apps.len(),
        "each preview stopped once, whatever the number of instances"
    );
    for task in ["idle_reaper", "ttl_sweeper", "reconciler"] {
        let holders: Vec<usize> = instances
            .services
            .iter()
            .enumerate()
            .filter(|(_, service)| {
                service
                    .tasks()
                    .snapshot()
                    .iter()
                    .any(|status| status.name == task && status.leased)
            })
            .map(|(index, _)| index)
            .collect();
        assert_eq!(
            holders.len(),
            1,
            "{task} is run by one instance: {holders:?}"
        );
        for (index, service) in instances.services.iter().enumerate() {
            let runs = service
                .tasks()
                .snapshot()
                .iter()
                .find(|status| status.name == task)
                .map_or(0, |status| status.runs);
            if index != holders[0] {
                assert_eq!(
                    runs, 0,
                    "{task} ran on instance {index}, which had no lease"
                );
            }
        }
    }
    for service in &instances.services {
        service.shutdown_token().cancel();
    }
    for mut set in loops.drain(..) {
        while set.join_next().await.is_some() {}
    }
    for store in &instances.stores {
        store.close().await;
    }
}
