//! The Fly driver when machines do not simply come up: starts refused for
//! capacity, entrypoints that crash and are restarted, suspends that end as
//! stops, hosts Fly cannot reach. Each is a realism switch of the emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, FlyEmulator, Realism, StartRefusal};
use provisioner::fly::machine_config::PreviewMachineSettings;
use provisioner::lifecycle::driver::{DriverData, MachineState, PreviewDriver, StopMode};
use tokio::time::Instant;

use crate::fly_client::{
    assert_spec_clean, driver, driver_with, machine_id, preview_spec, provision,
};

const CRASHING_IMAGE: &str = "registry.example.com/crashes-at-once:1";

async fn fly_with(realism: Realism) -> FlyEmulator {
    FlyEmulator::start_with(EmulatorConfig {
        realism,
        ..EmulatorConfig::default()
    })
    .await
}

#[tokio::test]
async fn a_start_refused_for_capacity_makes_a_new_machine_instead_of_waiting() {
    for refusal in [
        StartRefusal::NoMemory412,
        StartRefusal::NoCapacity409,
        StartRefusal::ErrorStatus,
    ] {
        let fly = FlyEmulator::start().await;
        let driver = driver(&fly);
        let spec = preview_spec("cramped");
        let mut data = provision(&driver, &spec).await;
        driver
            .stop(&spec.app_id, &mut data, StopMode::Stop)
            .await
            .unwrap();
        let old_machine = machine_id(&data);
        fly.refuse_next_starts(1, refusal);

        let started = Instant::now();
        driver.start(&spec.app_id, &mut data).await.unwrap();

        let new_machine = machine_id(&data);
        assert_ne!(
            new_machine, old_machine,
            "{refusal:?}: the refused machine was kept"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{refusal:?}");
        let live = fly.live_machines("preview-cramped");
        let states: Vec<(&str, &str)> = live.iter().map(|m| (m.id.as_str(), m.state)).collect();
        assert!(
            states.contains(&(new_machine.as_str(), "started")),
            "{refusal:?}: {states:?}"
        );
        assert!(
            !states
                .iter()
                .any(|(id, state)| *id == old_machine && *state != "destroying"),
            "{refusal:?}: the refused machine is still there: {states:?}"
        );
        assert_eq!(
            driver.state(&spec.app_id, &data).await.unwrap(),
            MachineState::Started
        );
        assert_spec_clean(&fly);
    }
}

#[tokio::test]
async fn a_crash_looping_entrypoint_fails_provisioning_with_its_exit_code() {
    let fly = fly_with(Realism {
        crashing_images: BTreeMap::from([(CRASHING_IMAGE.to_owned(), 17)]),
        ..Realism::default()
    })
    .await;
    let settings = PreviewMachineSettings {
        image: CRASHING_IMAGE.to_owned(),
        ..PreviewMachineSettings::default()
    };
    let driver = driver_with(&fly, "test", "preview-", settings);
    let spec = preview_spec("crashy");
    let mut data = DriverData::new();

    let started = Instant::now();
    let mut failure = None;
    for step in driver.steps() {
        if let Err(error) = driver.run_step(step, &spec, &mut data).await {
            failure = Some((step.name(), error));
            break;
        }
    }

    let (step, error) = failure.expect("provisioning a crashing image fails");
    assert_eq!(step, "wait_started");
    assert!(
        !error.is_transient(),
        "a crash loop is not retried: {error}"
    );
    let message = error.to_string();
    assert!(message.contains("exited with code 17"), "{message}");
    assert!(message.contains("fly logs -a preview-crashy"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn a_healthy_machine_is_ready_only_once_its_gateway_check_passes() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);

    let data = provision(&driver, &preview_spec("checked")).await;

    let machine = fly.live_machines("preview-checked").remove(0);
    let checks = machine.config["services"][0]["checks"].clone();
    assert_eq!(checks[0]["path"], "/__preview/health", "{checks}");
    assert_eq!(machine.id, machine_id(&data));
    let shows = fly
        .calls()
        .into_iter()
        .filter(|call| call.operation_id.as_deref() == Some("Machines_show") && call.status == 200);
    assert!(shows.count() >= 1, "the driver read the machine's checks");
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn a_suspend_that_ends_as_a_stop_reads_as_stopped() {
    let fly = fly_with(Realism {
        suspend_becomes_stop: true,
        ..Realism::default()
    })
    .await;
    let driver = driver(&fly);
    let spec = preview_spec("sleepy");
    let mut data = provision(&driver, &spec).await;

    driver
        .stop(&spec.app_id, &mut data, StopMode::Suspend)
        .await
        .unwrap();

    assert_eq!(
        driver.state(&spec.app_id, &data).await.unwrap(),
        MachineState::Stopped
    );
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn a_machine_whose_host_fly_cannot_reach_reads_as_unreachable() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("faraway");
    let data = provision(&driver, &spec).await;

    assert!(fly.set_host_status("preview-faraway", &machine_id(&data), "unreachable"));
    let state = driver.state(&spec.app_id, &data).await.unwrap();
    let listed = driver.list().await.unwrap();

    assert_eq!(state, MachineState::Unreachable);
    assert_eq!(listed[0].state, MachineState::Unreachable);
    assert_spec_clean(&fly);
}
