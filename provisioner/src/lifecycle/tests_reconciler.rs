//! Unit tests of the reconciler's repairs.

use std::time::Duration;

use crate::lifecycle::driver::MachineState;
use crate::lifecycle::memory_driver::MemoryDriver;
use crate::lifecycle::model::PreviewState;
use crate::lifecycle::service::Autostop;
use crate::lifecycle::tasks::reconciler::Reconciler;
use crate::lifecycle::tests::{app, harness, settle};

async fn wait_running(h: &crate::lifecycle::tests::Harness, app_id: &sync_protocol::AppId) {
    for _ in 0..100 {
        if h.service.get(app_id).await.unwrap().state == PreviewState::Running {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{app_id} did not return to running");
}

#[tokio::test]
async fn a_vanished_machine_is_replaced() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    let before = settle(h.service.provision(&app_id).await.unwrap()).await;
    h.driver.set_machine(&app_id, MachineState::Absent);
    let reconciler = Reconciler::new(h.service.clone());

    let first_miss = reconciler.activate().await;
    h.clock.advance(Duration::from_secs(1));
    let second_miss = reconciler.activate().await;
    wait_running(&h, &app_id).await;
    let after = h.service.get(&app_id).await.unwrap();

    assert_eq!((first_miss.replaced, second_miss.replaced), (0, 1));
    assert_ne!(
        before.driver_data.get("machine_id"),
        after.driver_data.get("machine_id")
    );
    assert_eq!(h.driver.machine(&app_id), Some(MachineState::Started));
}

#[tokio::test]
async fn a_machine_missing_from_lagging_lists_but_there_when_read_is_kept() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    let before = settle(h.service.provision(&app_id).await.unwrap()).await;
    h.driver.set_listed(&app_id, false);
    let reconciler = Reconciler::new(h.service.clone());

    let first_miss = reconciler.activate().await;
    h.clock.advance(Duration::from_secs(1));
    let second_miss = reconciler.activate().await;
    let after = h.service.get(&app_id).await.unwrap();

    assert_eq!((first_miss.replaced, second_miss.replaced), (0, 0));
    assert_eq!(after.state, PreviewState::Running);
    assert_eq!(before.driver_data, after.driver_data);
    assert_eq!(h.driver.calls("destroy"), 0);
}

#[tokio::test]
async fn a_machine_on_an_unreachable_host_gets_a_grace_period() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    h.driver.set_machine(&app_id, MachineState::Unreachable);
    let reconciler = Reconciler::new(h.service.clone());

    let first_seen = reconciler.activate().await;
    h.clock.advance(Duration::from_secs(240));
    let within_grace = reconciler.activate().await;
    h.driver.set_machine(&app_id, MachineState::Started);
    let back = reconciler.activate().await;

    assert_eq!(
        (first_seen.replaced, within_grace.replaced, back.replaced),
        (0, 0, 0)
    );
    assert_eq!(
        h.service.get(&app_id).await.unwrap().state,
        PreviewState::Running
    );
}

#[tokio::test]
async fn a_stuck_machine_is_replaced_only_after_the_threshold() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    h.driver.set_machine(&app_id, MachineState::Starting);
    let reconciler = Reconciler::new(h.service.clone());

    let first_seen = reconciler.activate().await;
    h.clock.advance(Duration::from_secs(240));
    let still_young = reconciler.activate().await;
    h.clock.advance(Duration::from_secs(120));
    let stuck = reconciler.activate().await;
    wait_running(&h, &app_id).await;

    assert_eq!(
        (first_seen.replaced, still_young.replaced, stuck.replaced),
        (0, 0, 1)
    );
    assert_eq!(h.driver.machine(&app_id), Some(MachineState::Started));
}

#[tokio::test]
async fn the_platforms_own_stops_and_starts_are_adopted() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    let reconciler = Reconciler::new(h.service.clone());

    h.driver.set_machine(&app_id, MachineState::Suspended);
    let stopped = reconciler.activate().await;
    let suspended = h.service.get(&app_id).await.unwrap().state;
    h.driver.set_machine(&app_id, MachineState::Started);
    let started = reconciler.activate().await;

    assert_eq!((stopped.adopted, started.adopted), (1, 1));
    assert_eq!(suspended, PreviewState::Suspended);
    assert_eq!(
        h.service.get(&app_id).await.unwrap().state,
        PreviewState::Running
    );
}

#[tokio::test]
async fn orphans_are_destroyed_after_the_grace_period() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let (known, orphan) = (app("known"), app("orphan"));
    settle(h.service.provision(&known).await.unwrap()).await;
    h.driver.set_machine(&orphan, MachineState::Started);
    let reconciler = Reconciler::new(h.service.clone());

    let within_grace = reconciler.activate().await;
    h.clock.advance(Duration::from_secs(61));
    let after_grace = reconciler.activate().await;

    assert_eq!(within_grace.orphans_destroyed, 0);
    assert_eq!(after_grace.orphans_destroyed, 1);
    assert_eq!(h.driver.apps(), vec![known]);
}

#[tokio::test]
async fn an_interrupted_delete_is_finished() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    h.driver.fail_next("destroy", 1);

    let failed = h.service.delete(&app_id).await;
    let summary = Reconciler::new(h.service.clone()).activate().await;

    assert!(failed.is_err());
    assert_eq!(summary.deletes_finished, 1);
    assert_eq!(
        h.service.get(&app_id).await.unwrap().state,
        PreviewState::Deleted
    );
    assert!(h.driver.apps().is_empty());
}
