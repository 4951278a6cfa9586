//! The driver contract, checked the same way against every driver: the
//! memory driver (unit tests), the local driver (against a stand-in
//! daemon) and the Fly driver (against the emulator in `tests/`). A new
//! platform passes [`check_driver`] before the lifecycle may rely on it.
//!
//! What it checks: every step is idempotent (run twice, the preview is the
//! same), `list` finds what was made, stop and start round-trip,
//! `discard_machine` names one of the driver's own steps and provisioning
//! resumed from there runs again, and destroying twice is fine and leaves
//! nothing listed.

use crate::lifecycle::driver::{DriverData, MachineState, PreviewDriver, PreviewSpec, StopMode};

/// Runs the whole contract for `spec.app_id`; panics with what broke.
pub async fn check_driver(driver: &dyn PreviewDriver, spec: &PreviewSpec) {
    let app_id = &spec.app_id;
    let steps = driver.steps();
    assert!(!steps.is_empty(), "a driver has at least one step");
    let mut data = DriverData::new();
    for step in &steps {
        for attempt in ["first", "second"] {
            driver
                .run_step(*step, spec, &mut data)
                .await
                .unwrap_or_else(|error| panic!("step {step}, {attempt} run: {error:#}"));
        }
    }
    let state = driver.state(app_id, &data).await.expect("state");
    assert_eq!(state, MachineState::Started, "provisioned twice over");
    assert_listed_once(driver, spec, Some(MachineState::Started)).await;

    driver
        .stop(app_id, &mut data, StopMode::Stop)
        .await
        .expect("stop");
    let stopped = driver.state(app_id, &data).await.expect("state");
    driver.start(app_id, &mut data).await.expect("start");
    let started = driver.state(app_id, &data).await.expect("state");
    assert_eq!(stopped, MachineState::Stopped);
    assert_eq!(started, MachineState::Started);

    let from = driver
        .discard_machine(app_id, &mut data)
        .await
        .expect("discard_machine");
    let resume_at = steps
        .iter()
        .position(|step| *step == from)
        .unwrap_or_else(|| panic!("discard_machine named {from}, not one of {steps:?}"));
    for step in &steps[resume_at..] {
        driver
            .run_step(*step, spec, &mut data)
            .await
            .unwrap_or_else(|error| panic!("step {step} after discard: {error:#}"));
    }
    let replaced = driver.state(app_id, &data).await.expect("state");
    assert_eq!(replaced, MachineState::Started, "resumed at {from}");
    assert_listed_once(driver, spec, Some(MachineState::Started)).await;

    driver.destroy(app_id, &data).await.expect("destroy");
    driver.destroy(app_id, &data).await.expect("destroy twice");
    let gone = driver.state(app_id, &DriverData::new()).await;
    assert_eq!(gone.expect("state"), MachineState::Absent);
    assert_listed_once(driver, spec, None).await;
}

/// The platform lists the app once in `state`, or not at all when `None`.
async fn assert_listed_once(
    driver: &dyn PreviewDriver,
    spec: &PreviewSpec,
    state: Option<MachineState>,
) {
    let listed: Vec<MachineState> = driver
        .list()
        .await
        .expect("list")
        .into_iter()
        .filter(|preview| preview.app_id == spec.app_id)
        .map(|preview| preview.state)
        .collect();
    assert_eq!(listed, Vec::from_iter(state), "list after making it");
}
