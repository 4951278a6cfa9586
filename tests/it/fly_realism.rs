//! The Fly driver against Fly as it really behaves (the emulator's realism
//! switches, with lags far longer than the defaults): reads that lag a
//! create, deletes that take a while, an app that vanishes out of band.

use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, Realism};
use provisioner::fly::driver::FlyData;
use provisioner::lifecycle::driver::{DriverData, PreviewDriver, StopMode};
use tokio::time::Instant;

use provisioner::fly::machine_config::PreviewMachineSettings;
use provisioner::fly::types::Autostop;

use crate::fly_client::{
    assert_spec_clean, driver, driver_with, machine_id, preview_spec, provision,
};

fn lagging(visibility: u64, list: u64, delete: u64) -> EmulatorConfig {
    EmulatorConfig {
        realism: Realism {
            visibility_lag: Duration::from_millis(visibility),
            list_lag: Duration::from_millis(list),
            delete_lag: Duration::from_millis(delete),
            ..Realism::default()
        },
        ..EmulatorConfig::default()
    }
}

fn answered(fly: &FlyEmulator, operation_id: &str, status: u16) -> usize {
    let calls = fly.calls();
    let matching = calls
        .iter()
        .filter(|call| call.operation_id.as_deref() == Some(operation_id) && call.status == status);
    matching.count()
}

#[tokio::test]
async fn a_new_app_and_machine_that_answer_404_for_a_while_still_provision() {
    let fly = FlyEmulator::start_with(lagging(300, 300, 0)).await;
    let driver = driver(&fly);

    provision(&driver, &preview_spec("laggy")).await;

    assert_eq!(fly.app_names(), ["preview-laggy"]);
    let machines = fly.live_machines("preview-laggy");
    assert_eq!(machines.len(), 1);
    assert_eq!(machines[0].state, "started");
    assert!(answered(&fly, "Apps_show", 404) > 0, "the app lagged");
    assert!(
        answered(&fly, "Machines_show", 404) > 0,
        "the machine lagged"
    );
    let create = fly
        .calls()
        .into_iter()
        .find(|call| call.method == "POST" && call.path == "/v1/apps");
    let create = create.expect("an app create");
    assert!(
        create
            .query
            .contains(&("wait".to_owned(), "true".to_owned()))
    );
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn a_lost_machine_create_answer_makes_no_twin_while_lists_lag() {
    let fly = FlyEmulator::start_with(lagging(0, 150, 0)).await;
    let driver = driver(&fly);
    fly.fail_nth_call_after_processing("Machines_create", 1, 503);

    let spec = preview_spec("twinless");
    let mut data = DriverData::new();
    for step in driver.steps() {
        for attempt in 0..5 {
            match driver.run_step(step, &spec, &mut data).await {
                Ok(_) => break,
                Err(error) if error.is_transient() && attempt < 4 => {}
                Err(error) => panic!("{step}: {error}"),
            }
        }
    }

    assert_eq!(fly.live_machines("preview-twinless").len(), 1);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn a_destroy_returns_once_the_app_is_gone_and_a_new_provision_makes_a_fresh_app() {
    let fly = FlyEmulator::start_with(lagging(0, 0, 400)).await;
    let driver = driver(&fly);
    let spec = preview_spec("dying");
    let data = provision(&driver, &spec).await;
    let first_id = fly.app("preview-dying").unwrap().id;

    let started = Instant::now();
    driver.destroy(&spec.app_id, &data).await.unwrap();
    let took = started.elapsed();
    let gone = fly.app("preview-dying").is_none();
    provision(&driver, &spec).await;

    assert!(answered(&fly, "Apps_delete", 202) >= 1);
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(gone, "destroy returned while the app was still there");
    let again = fly.app("preview-dying").expect("made again");
    assert_ne!(again.id, first_id, "the dying app was adopted");
    assert_eq!(fly.live_machines("preview-dying").len(), 1);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn an_app_deleted_out_of_band_is_made_again_from_create_app() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("vanished");
    let mut data = provision(&driver, &spec).await;

    assert!(fly.remove_app("preview-vanished"));
    let resume_at = driver
        .discard_machine(&spec.app_id, &mut data)
        .await
        .unwrap();

    assert_eq!(resume_at.name(), "create_app");
    assert!(data.is_empty(), "nothing of the old app is kept: {data:?}");
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn the_emulated_proxy_autostops_a_machine_without_requests_unless_told_off() {
    let fly = FlyEmulator::start_with(EmulatorConfig {
        realism: Realism {
            proxy_autostop: Some(Duration::from_millis(200)),
            ..Realism::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let left_alone = driver(&fly);
    let proxy_owned = driver_with(
        &fly,
        "test",
        "proxied-",
        PreviewMachineSettings {
            autostop: Autostop::Stop,
            ..PreviewMachineSettings::default()
        },
    );
    provision(&left_alone, &preview_spec("off")).await;
    provision(&proxy_owned, &preview_spec("stops")).await;

    tokio::time::sleep(Duration::from_millis(400)).await;
    let off = fly.live_machines("preview-off")[0].state;
    let stopped = fly.live_machines("proxied-stops")[0].state;
    let served = fly.proxy_request("proxied-stops");
    tokio::time::sleep(Duration::from_millis(50)).await;

    assert_eq!(off, "started", "autostop off: the proxy leaves it running");
    assert_eq!(stopped, "stopped", "no requests: the proxy stopped it");
    assert!(served);
    assert_eq!(fly.live_machines("proxied-stops")[0].state, "started");
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn power_calls_hold_the_machines_lease_and_wait_for_another_holder() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("contended");
    let mut data = provision(&driver, &spec).await;
    let machine = machine_id(&data);
    // Another provisioner instance (or `fly machine stop`) holds the lease.
    let other = driver
        .client()
        .acquire_lease("preview-contended", &machine, 30, "another holder")
        .await
        .unwrap();

    let while_held = driver.stop(&spec.app_id, &mut data, StopMode::Stop).await;
    let state_while_held = fly.live_machines("preview-contended")[0].state;
    driver
        .client()
        .release_lease("preview-contended", &machine, &other.nonce)
        .await
        .unwrap();
    driver
        .stop(&spec.app_id, &mut data, StopMode::Stop)
        .await
        .unwrap();
    driver.start(&spec.app_id, &mut data).await.unwrap();

    let error = while_held.expect_err("a leased machine is not ours to stop");
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("leased"), "{error}");
    assert_eq!(state_while_held, "started");
    assert_eq!(fly.live_machines("preview-contended")[0].state, "started");
    let leases = fly
        .operation_ids()
        .into_iter()
        .filter(|id| id == "Machines_create_lease" || id == "Machines_release_lease")
        .count();
    assert_eq!(
        leases,
        2 + 2 + 2 + 1,
        "ours around stop and start, the other's, the refused take"
    );
    assert!(
        fly.app("preview-contended").unwrap().machines[&machine]
            .lease
            .is_none()
    );
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn a_replacement_machine_runs_the_image_digest_the_first_one_resolved() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("pinned");
    let mut data = provision(&driver, &spec).await;
    let first: FlyData = data.decode().unwrap();
    let pinned = first.pinned_image.clone().expect("the digest is kept");

    let resume_at = driver
        .discard_machine(&spec.app_id, &mut data)
        .await
        .unwrap();
    for step in driver
        .steps()
        .into_iter()
        .skip_while(|step| *step != resume_at)
    {
        driver.run_step(step, &spec, &mut data).await.unwrap();
    }

    assert!(
        pinned.starts_with("registry.fly.io/preview-runtime@sha256:"),
        "{pinned}"
    );
    let machines = fly.live_machines("preview-pinned");
    let live: Vec<_> = machines.iter().filter(|m| m.state == "started").collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].config["image"], pinned.as_str());
    assert_ne!(live[0].id, first.machine_id.unwrap());
    assert_spec_clean(&fly);
}
