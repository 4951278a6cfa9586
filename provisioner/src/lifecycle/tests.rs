//! Unit tests of the service and its loops against the in-memory driver and
//! store, with a manual clock: time moves when a test says so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sync_protocol::{AppId, DevServerState, SyncToken};
use time::OffsetDateTime;

use crate::lifecycle::app_files::{AppFiles, SyncStatus};
use crate::lifecycle::clock::ManualClock;
use crate::lifecycle::driver::MachineState;
use crate::lifecycle::driver::Steps;
use crate::lifecycle::memory_driver::{MemoryDriver, MemoryStep};
use crate::lifecycle::model::{PreviewState, StepStatus};
use crate::lifecycle::service::{Autostop, LifecycleConfig, LifecycleService};
use crate::lifecycle::single_flight::InFlight;
use crate::lifecycle::tasks::reconciler::Reconciler;
use crate::lifecycle::{LifecycleError, idle_reaper, ttl_sweeper};
use crate::store::memory::MemoryStore;

#[derive(Default)]
pub(crate) struct FakeFiles {
    revision: Mutex<u64>,
    applied: Mutex<Option<u64>>,
    minted: Mutex<usize>,
    /// Tokens minted and not revoked since.
    live_tokens: Mutex<u64>,
}

#[async_trait]
impl AppFiles for FakeFiles {
    async fn mint_sync_token(&self, app_id: &AppId) -> anyhow::Result<SyncToken> {
        *self.minted.lock().unwrap() += 1;
        *self.live_tokens.lock().unwrap() += 1;
        Ok(SyncToken::new(app_id.clone(), [9; 32]))
    }

    async fn revoke_sync_tokens(&self, _app_id: &AppId) -> anyhow::Result<u64> {
        Ok(std::mem::take(&mut *self.live_tokens.lock().unwrap()))
    }

    async fn files_revision(&self, _app_id: &AppId) -> anyhow::Result<u64> {
        Ok(*self.revision.lock().unwrap())
    }

    async fn sync_status(&self, _app_id: &AppId) -> anyhow::Result<Option<SyncStatus>> {
        Ok(self
            .applied
            .lock()
            .unwrap()
            .map(|applied_revision| SyncStatus {
                applied_revision,
                dev_server: DevServerState::Ready,
                message: None,
                runtime: None,
                render: None,
            }))
    }
}

pub(crate) struct Harness {
    pub(crate) service: Arc<LifecycleService>,
    pub(crate) driver: Arc<MemoryDriver>,
    pub(crate) files: Arc<FakeFiles>,
    pub(crate) clock: Arc<ManualClock>,
}

pub(crate) fn harness(driver: MemoryDriver, autostop: Autostop) -> Harness {
    let driver = Arc::new(driver);
    let files = Arc::new(FakeFiles::default());
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ));
    let mut config = LifecycleConfig::new("http://provisioner.test".to_owned());
    config.idle_timeout = Duration::from_secs(600);
    config.delete_after = Duration::from_secs(86_400);
    config.autostop = autostop;
    config.orphan_grace = Duration::from_secs(60);
    let service = LifecycleService::new(
        driver.clone(),
        Arc::new(MemoryStore::default()),
        files.clone(),
        clock.clone(),
        config,
    );
    Harness {
        service,
        driver,
        files,
        clock,
    }
}

pub(crate) fn app(name: &str) -> AppId {
    AppId::parse(name).unwrap()
}

pub(crate) async fn settle(in_flight: InFlight) -> crate::lifecycle::PreviewRecord {
    in_flight.await.expect("operation failed")
}

#[tokio::test]
async fn provision_runs_every_step_once_and_again_is_a_no_op() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");

    let record = settle(h.service.provision(&app_id).await.unwrap()).await;
    let again = settle(h.service.provision(&app_id).await.unwrap()).await;

    assert_eq!(record.state, PreviewState::Running);
    assert!(
        record
            .steps
            .iter()
            .all(|step| step.status == StepStatus::Done && step.log.is_some())
    );
    assert_eq!(again.state, PreviewState::Running);
    for step in MemoryStep::ALL {
        assert_eq!(h.driver.calls(step.name()), 1, "{step:?}");
    }
    assert_eq!(h.driver.machine(&app_id), Some(MachineState::Started));
    assert_eq!(*h.files.minted.lock().unwrap(), 1);
}

#[tokio::test]
async fn concurrent_provisions_make_one_app() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");

    let provisions = (0..20).map(|_| {
        let service = h.service.clone();
        let app_id = app_id.clone();
        async move { settle(service.provision(&app_id).await.unwrap()).await }
    });
    let records = futures::future::join_all(provisions).await;

    assert!(
        records
            .iter()
            .all(|record| record.state == PreviewState::Running)
    );
    assert_eq!(h.driver.calls("create_app"), 1);
    assert_eq!(h.driver.apps(), vec![app_id]);
}

#[tokio::test]
async fn a_transient_failure_resumes_at_the_failed_step() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    h.driver.fail_next("create_machine", 3);

    let failed = h.service.provision(&app_id).await.unwrap().await;
    let stored = h.service.get(&app_id).await.unwrap();
    let summary = Reconciler::new(h.service.clone()).activate().await;
    let resumed = settle(h.service.provision(&app_id).await.unwrap()).await;

    assert!(failed.is_err());
    assert_eq!(stored.state, PreviewState::Provisioning);
    assert_eq!(stored.steps[2].status, StepStatus::Failed);
    assert!(stored.error.as_deref().unwrap().contains("create_machine"));
    assert_eq!(summary.resumed, 1);
    assert_eq!(resumed.state, PreviewState::Running);
    assert_eq!(h.driver.calls("create_app"), 1, "done steps are not re-run");
    assert_eq!(h.driver.calls("create_machine"), 4);
}

#[tokio::test]
async fn idle_previews_sleep_and_wake_from_stopped_and_suspended() {
    for (autostop, asleep) in [
        (Autostop::Stop, PreviewState::Stopped),
        (Autostop::Suspend, PreviewState::Suspended),
    ] {
        let h = harness(MemoryDriver::new(), autostop);
        let app_id = app("shop");
        settle(h.service.provision(&app_id).await.unwrap()).await;

        h.clock.advance(Duration::from_secs(300));
        h.service.touch(&app_id);
        h.clock.advance(Duration::from_secs(400));
        let while_active = idle_reaper::activate(&h.service).await;
        h.clock.advance(Duration::from_secs(300));
        let once_idle = idle_reaper::activate(&h.service).await;
        let slept = h.service.get(&app_id).await.unwrap();
        let woken = h
            .service
            .wake_and_wait(&app_id, Duration::from_secs(5))
            .await
            .unwrap();

        assert_eq!(
            while_active.put_to_sleep, 0,
            "a touch 400 s ago keeps it awake"
        );
        assert_eq!(once_idle.put_to_sleep, 1);
        assert_eq!(slept.state, asleep);
        assert_eq!(woken.state, PreviewState::Running);
        assert_eq!(h.driver.calls("stop"), 1);
        assert_eq!(h.driver.calls("start"), 1);
        assert_eq!(h.driver.machine(&app_id), Some(MachineState::Started));
    }
}

#[tokio::test]
async fn autostop_off_never_sleeps() {
    let h = harness(MemoryDriver::new(), Autostop::Off);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;

    h.clock.advance(Duration::from_secs(3600));
    let summary = idle_reaper::activate(&h.service).await;

    assert_eq!(summary.put_to_sleep, 0);
    assert_eq!(h.driver.calls("stop"), 0);
}

#[tokio::test]
async fn an_asked_stop_puts_a_busy_preview_to_sleep_and_a_wake_starts_it_again() {
    for (autostop, asleep) in [
        (Autostop::Suspend, PreviewState::Suspended),
        (Autostop::Stop, PreviewState::Stopped),
        (Autostop::Off, PreviewState::Stopped),
    ] {
        let h = harness(MemoryDriver::new(), autostop);
        let app_id = app("shop");
        settle(h.service.provision(&app_id).await.unwrap()).await;
        h.service.touch(&app_id);

        let stopped = h.service.stop(&app_id).await.unwrap();
        let again = h.service.stop(&app_id).await;
        let woken = h
            .service
            .wake_and_wait(&app_id, Duration::from_secs(5))
            .await
            .unwrap();

        assert_eq!(stopped.state, asleep, "{autostop:?}");
        assert_eq!(
            h.service.get(&app_id).await.unwrap().state,
            PreviewState::Running
        );
        assert!(
            matches!(again, Err(LifecycleError::NotRunning { state, .. }) if state == asleep.as_str()),
            "{again:?}"
        );
        assert_eq!(woken.state, PreviewState::Running);
        assert_eq!(h.driver.calls("stop"), 1, "the refused stop calls nothing");
        assert_eq!(h.driver.calls("start"), 1);
        assert_eq!(h.driver.apps(), vec![app_id], "the machine is kept");
    }
}

#[tokio::test]
async fn a_stop_of_an_app_without_a_preview_is_not_found() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);

    let outcome = h.service.stop(&app("ghost")).await;

    assert!(
        matches!(outcome, Err(LifecycleError::NotFound(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn fifty_concurrent_wakes_make_one_start_call() {
    let h = harness(
        MemoryDriver::with_start_delay(Duration::from_millis(50)),
        Autostop::Stop,
    );
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    h.clock.advance(Duration::from_secs(601));
    idle_reaper::activate(&h.service).await;

    let wakes = (0..50).map(|_| {
        let service = h.service.clone();
        let app_id = app_id.clone();
        async move { service.wake_and_wait(&app_id, Duration::from_secs(5)).await }
    });
    let outcomes = futures::future::join_all(wakes).await;

    assert!(outcomes.iter().all(|outcome| {
        outcome
            .as_ref()
            .is_ok_and(|r| r.state == PreviewState::Running)
    }));
    assert_eq!(h.driver.calls("start"), 1);
}

#[tokio::test]
async fn a_wake_waits_for_the_daemon_to_catch_up() {
    let h = harness(MemoryDriver::new(), Autostop::Stop);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    *h.files.revision.lock().unwrap() = 3;
    *h.files.applied.lock().unwrap() = Some(2);

    let behind = h
        .service
        .wake_and_wait(&app_id, Duration::from_millis(200))
        .await;
    *h.files.applied.lock().unwrap() = Some(3);
    let caught_up = h
        .service
        .wake_and_wait(&app_id, Duration::from_millis(200))
        .await;

    assert!(
        matches!(behind, Err(LifecycleError::Timeout(_))),
        "{behind:?}"
    );
    assert!(caught_up.is_ok());
}

#[tokio::test]
async fn a_visit_reported_too_long_ago_for_a_date_is_ignored_not_a_panic() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");

    // A daemon reports what its gateway saw; the preview's code can lie.
    h.service
        .touch_visit(&app_id, Duration::from_secs(9_223_372_036_854_775_808));
    h.service.touch_visit(&app_id, Duration::MAX);
    let absurd = h.service.activity.pending(&app_id);
    h.service.touch_visit(&app_id, Duration::from_secs(30));

    assert_eq!(absurd, None);
    assert_eq!(
        h.service.activity.pending(&app_id),
        Some(OffsetDateTime::from_unix_timestamp(1_800_000_000 - 30).unwrap())
    );
}

#[tokio::test]
async fn delete_is_idempotent_and_leaves_nothing_on_the_platform() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;

    assert!(*h.files.live_tokens.lock().unwrap() > 0);
    let first = h.service.delete(&app_id).await.unwrap();
    let tokens_after_delete = *h.files.live_tokens.lock().unwrap();
    let second = h.service.delete(&app_id).await.unwrap();
    let unknown = h.service.delete(&app("never")).await;
    let reprovisioned = settle(h.service.provision(&app_id).await.unwrap()).await;

    assert_eq!(first.state, PreviewState::Deleted);
    assert_eq!(
        tokens_after_delete, 0,
        "a destroyed preview's tokens are revoked"
    );
    assert_eq!(second.state, PreviewState::Deleted);
    assert_eq!(h.driver.calls("destroy"), 1);
    assert!(matches!(unknown, Err(LifecycleError::NotFound(_))));
    assert_eq!(reprovisioned.state, PreviewState::Running);
    assert_eq!(h.driver.apps(), vec![app_id]);
}

#[tokio::test]
async fn the_ttl_sweeper_destroys_long_idle_previews() {
    let h = harness(MemoryDriver::new(), Autostop::Suspend);
    let (old, fresh) = (app("old"), app("fresh"));
    settle(h.service.provision(&old).await.unwrap()).await;
    h.clock.advance(Duration::from_secs(80_000));
    settle(h.service.provision(&fresh).await.unwrap()).await;
    h.clock.advance(Duration::from_secs(10_000));

    let summary = ttl_sweeper::activate(&h.service).await;

    assert_eq!(summary.destroyed, 1);
    assert_eq!(
        h.service.get(&old).await.unwrap().state,
        PreviewState::Deleted
    );
    assert_eq!(
        h.service.get(&fresh).await.unwrap().state,
        PreviewState::Running
    );
    assert_eq!(h.driver.apps(), vec![fresh]);
}

#[tokio::test]
async fn a_wake_in_flight_shows_as_waking() {
    let h = harness(
        MemoryDriver::with_start_delay(Duration::from_millis(200)),
        Autostop::Stop,
    );
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    h.clock.advance(Duration::from_secs(601));
    idle_reaper::activate(&h.service).await;

    let in_flight = h.service.wake(&app_id).await.unwrap();
    let during = h
        .service
        .summary_view(h.service.get(&app_id).await.unwrap());
    settle(in_flight).await;
    let after = h
        .service
        .summary_view(h.service.get(&app_id).await.unwrap());

    assert_eq!(during.state, PreviewState::Waking);
    assert_eq!(after.state, PreviewState::Running);
}

#[tokio::test]
async fn a_wake_restarts_a_machine_that_stopped_behind_a_running_record() {
    let h = harness(MemoryDriver::new(), Autostop::Stop);
    let app_id = app("shop");
    settle(h.service.provision(&app_id).await.unwrap()).await;
    h.driver.set_machine(&app_id, MachineState::Stopped);

    let woken = h
        .service
        .wake_and_wait(&app_id, Duration::from_secs(5))
        .await
        .unwrap();
    let again = h
        .service
        .wake_and_wait(&app_id, Duration::from_secs(5))
        .await
        .unwrap();

    assert_eq!(
        (woken.state, again.state),
        (PreviewState::Running, PreviewState::Running)
    );
    assert_eq!(h.driver.calls("start"), 1);
    assert_eq!(h.driver.machine(&app_id), Some(MachineState::Started));
}
