//! The Fly client and the Fly driver against the spec-checked emulator:
//! idempotent app creation, `name_taken`, retries on 429 and 5xx, the exact
//! calls a provisioning makes, power transitions and clean destruction. Every
//! test ends by asserting the emulator's spec check refused nothing.

use std::time::Duration;

use preview_tests::fly_calls;
use preview_tests::fly_emulator::{Faults, FlyEmulator};
use provisioner::fly::driver::{FlyData, FlyStep};
use provisioner::fly::machine_config::{
    METADATA_APP_ID, PreviewMachineSettings, SECRET_SERVER_URL, SECRET_SYNC_TOKEN,
};
use provisioner::fly::types::CreateAppRequest;
use provisioner::fly::{FlyClient, FlyClientConfig, FlyError, RetryPolicy};
use provisioner::fly::{FlyDriver, FlyDriverConfig, Identity};
use provisioner::lifecycle::driver::{
    DriverData, MachineState, PreviewDriver, PreviewSpec, Steps, StopMode,
};
use sync_protocol::{AppId, SyncToken};
use tokio::time::Instant;

pub(crate) const ORG: &str = "personal";

pub(crate) fn client(fly: &FlyEmulator) -> FlyClient {
    let mut config = FlyClientConfig::new(fly.base_url(), "fm2_test-token");
    config.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(5),
    };
    FlyClient::new(config).expect("client builds")
}

pub(crate) fn driver(fly: &FlyEmulator) -> FlyDriver {
    driver_as(fly, "test", "preview-")
}

/// A driver of deployment `deployment` naming its apps `<prefix><appId>`.
pub(crate) fn driver_as(fly: &FlyEmulator, deployment: &str, prefix: &str) -> FlyDriver {
    driver_with(fly, deployment, prefix, PreviewMachineSettings::default())
}

/// A driver whose previews run on `machine`.
pub(crate) fn driver_with(
    fly: &FlyEmulator,
    deployment: &str,
    prefix: &str,
    machine: PreviewMachineSettings,
) -> FlyDriver {
    let config = FlyDriverConfig {
        org_slug: ORG.to_owned(),
        identity: Identity::new(deployment, prefix).unwrap(),
        machine,
        wait_budget: Duration::from_secs(10),
        visibility_budget: Duration::from_secs(5),
        proxy_url: Some(fly.base_url().to_owned()),
        url_budget: Duration::from_secs(10),
    };
    FlyDriver::new(client(fly), config)
}

pub(crate) fn preview_spec(app: &str) -> PreviewSpec {
    let app_id = AppId::parse(app).unwrap();
    PreviewSpec {
        sync_token: SyncToken::new(app_id.clone(), [7; 32]),
        app_id,
        server_url: "https://provisioner.example.com".to_owned(),
    }
}

fn app_request(name: &str, key: Option<&str>) -> CreateAppRequest {
    CreateAppRequest {
        name: name.to_owned(),
        org_slug: ORG.to_owned(),
        network: Some(name.to_owned()),
        idempotency_key: key.map(str::to_owned),
    }
}

pub(crate) async fn provision(driver: &FlyDriver, spec: &PreviewSpec) -> DriverData {
    let mut data = DriverData::new();
    for step in driver.steps() {
        driver
            .run_step(step, spec, &mut data)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    data
}

/// The machine id the driver keeps for a preview.
pub(crate) fn machine_id(data: &DriverData) -> String {
    let data: FlyData = data.decode().expect("fly driver data");
    data.machine_id.expect("a machine id")
}

/// The app ids of the previews the driver finds on the platform, sorted.
async fn listed_app_ids(driver: &FlyDriver) -> Vec<String> {
    let mut ids: Vec<String> = driver
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|preview| preview.app_id.to_string())
        .collect();
    ids.sort();
    ids
}

pub(crate) fn assert_spec_clean(fly: &FlyEmulator) {
    let rejected = fly.rejected_calls();
    assert!(rejected.is_empty(), "the spec check refused: {rejected:#?}");
}

#[tokio::test]
async fn the_fly_driver_keeps_the_driver_contract() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);

    provisioner::lifecycle::conformance::check_driver(&driver, &preview_spec("contract")).await;

    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_create_app_twice_with_one_idempotency_key_makes_one_app() {
    let fly = FlyEmulator::start().await;
    let client = client(&fly);

    let first = client
        .create_app(&app_request("preview-one", Some("key-1")))
        .await
        .unwrap();
    let second = client
        .create_app(&app_request("preview-one", Some("key-1")))
        .await
        .unwrap();

    assert_eq!(first.id, second.id);
    assert_eq!(fly.app_names(), ["preview-one"]);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_name_taken_reuses_our_app_and_refuses_a_foreign_one() {
    let fly = FlyEmulator::start().await;
    let client = client(&fly);
    fly.insert_app_in_network("preview-ours", ORG, Some("preview-ours"));
    fly.insert_app("preview-theirs", "someone-else");
    fly.insert_app_in_network("preview-staging", ORG, Some("preview-staging-staging"));

    let ours = client
        .create_app(&app_request("preview-ours", None))
        .await
        .unwrap();
    let theirs = client
        .create_app(&app_request("preview-theirs", None))
        .await;
    let other_deployment = client
        .create_app(&app_request("preview-staging", None))
        .await;

    assert_eq!(ours.name, "preview-ours");
    assert!(
        matches!(theirs, Err(FlyError::NameTaken { ref name, ref holder }) if name == "preview-theirs" && holder.contains("organization")),
        "{theirs:?}"
    );
    assert!(
        matches!(other_deployment, Err(FlyError::NameTaken { ref holder, .. }) if holder.contains("deployment")),
        "{other_deployment:?}"
    );
    let message = theirs.unwrap_err().to_string();
    assert!(message.contains("FLY_APP_PREFIX"), "{message}");
    let create_answers: Vec<u16> = fly
        .calls()
        .iter()
        .filter(|c| c.operation_id.as_deref() == Some("Apps_create"))
        .map(|c| c.status)
        .collect();
    assert_eq!(create_answers, [422, 422, 422]);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_429_waits_for_retry_after() {
    let fly = FlyEmulator::start().await;
    let client = client(&fly);
    fly.insert_app("preview-slow", ORG);
    fly.fail_nth_call("Apps_show", 1, 429);

    let started = Instant::now();
    let app = client.get_app("preview-slow").await.unwrap();

    // The emulator asks for one second; the client's own backoff is at most 100 ms.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.name, "preview-slow");
    assert_eq!(fly.operation_ids(), ["Apps_show", "Apps_show"]);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_5xx_is_retried_and_retries_are_bounded() {
    let fly = FlyEmulator::start().await;
    let client = client(&fly);
    fly.fail_nth_call("Apps_create", 1, 503);
    fly.fail_nth_call("Apps_create", 2, 502);

    client
        .create_app(&app_request("preview-flaky", Some("k")))
        .await
        .unwrap();
    assert_eq!(fly.operation_ids(), ["Apps_create"; 3]);
    assert_eq!(fly.app_names(), ["preview-flaky"]);

    // Always failing: the client gives up once its time budget is spent.
    fly.set_faults(Faults {
        rate_5xx: 1.0,
        ..Faults::default()
    });
    let mut config = FlyClientConfig::new(fly.base_url(), "token");
    config.retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_elapsed: Duration::from_millis(300),
    };
    let impatient = FlyClient::new(config).unwrap();
    let started = Instant::now();
    let result = impatient.get_app("preview-flaky").await;
    assert!(matches!(result, Err(FlyError::Server { .. })), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_provisioning_makes_exactly_the_expected_calls() {
    let fly = FlyEmulator::start_without_lags().await;
    let driver = driver(&fly);
    let spec = preview_spec("demo");

    let data = provision(&driver, &spec).await;

    assert_eq!(fly.operation_ids(), fly_calls::FIRST_PROVISION);
    let app = fly.app("preview-demo").expect("the app exists");
    assert_eq!(app.org_slug, ORG);
    assert_eq!(app.network.as_deref(), Some("preview-demo-test"));
    let kinds: Vec<&str> = app.ips.iter().map(|ip| ip.kind.as_str()).collect();
    assert_eq!(kinds, ["shared_v4", "v6"]);
    // The token and URL are app secrets, and appear nowhere in the machine config.
    assert_eq!(app.secrets[SECRET_SYNC_TOKEN], spec.sync_token.expose());
    assert_eq!(app.secrets[SECRET_SERVER_URL], spec.server_url);
    let machines = fly.live_machines("preview-demo");
    assert_eq!(machines.len(), 1);
    let machine = &machines[0];
    assert_eq!(machine_id(&data), machine.id);
    assert_eq!(machine.state, "started");
    assert_eq!(machine.metadata(METADATA_APP_ID), Some("demo"));
    assert_eq!(machine.min_secrets_version, Some(app.secrets_version));
    assert!(
        !machine
            .config
            .to_string()
            .contains(&spec.sync_token.expose())
    );
    // The name is kept with the preview, and its URL is built from it.
    assert_eq!(data.platform_name(), Some("preview-demo"));
    assert_eq!(
        driver.url(&spec.app_id, &data),
        "https://preview-demo.fly.dev"
    );
    let steps: Vec<&str> = driver.steps().iter().map(|step| step.name()).collect();
    assert_eq!(steps, fly_calls::PROVISION_STEPS);
    let typed: Vec<&str> = FlyStep::ALL.iter().map(|step| step.name()).collect();
    assert_eq!(typed, steps);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_provisioning_again_changes_nothing_and_a_lost_create_answer_makes_no_twin() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("twice");
    // The first machine create takes effect but its answer is lost.
    fly.fail_nth_call_after_processing("Machines_create", 1, 503);

    provision(&driver, &spec).await;
    provision(&driver, &spec).await;

    assert_eq!(fly.app_names(), ["preview-twice"]);
    assert_eq!(fly.live_machines("preview-twice").len(), 1);
    assert_eq!(fly.app("preview-twice").unwrap().ips.len(), 2);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_stop_suspend_and_start() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("power");
    let mut data = provision(&driver, &spec).await;
    let app_id = &spec.app_id;

    driver
        .stop(app_id, &mut data, StopMode::Suspend)
        .await
        .unwrap();
    assert_eq!(
        driver.state(app_id, &data).await.unwrap(),
        MachineState::Suspended
    );
    driver.start(app_id, &mut data).await.unwrap();
    assert_eq!(
        driver.state(app_id, &data).await.unwrap(),
        MachineState::Started
    );
    driver
        .stop(app_id, &mut data, StopMode::Stop)
        .await
        .unwrap();
    assert_eq!(
        driver.state(app_id, &data).await.unwrap(),
        MachineState::Stopped
    );
    // Stopping what is already stopped asks Fly for nothing more than its state.
    let before = fly.calls().len();
    driver
        .stop(app_id, &mut data, StopMode::Stop)
        .await
        .unwrap();
    assert_eq!(fly.operation_ids()[before..], ["Machines_show"]);
    driver.start(app_id, &mut data).await.unwrap();
    assert_eq!(
        driver.state(app_id, &data).await.unwrap(),
        MachineState::Started
    );

    let power_calls: Vec<String> = fly
        .operation_ids()
        .into_iter()
        .filter(|id| {
            matches!(
                id.as_str(),
                "Machines_start" | "Machines_stop" | "Machines_suspend"
            )
        })
        .collect();
    assert_eq!(
        power_calls,
        [
            "Machines_suspend",
            "Machines_start",
            "Machines_stop",
            "Machines_start"
        ]
    );
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_destroy_leaves_nothing_and_list_finds_our_previews() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let kept = preview_spec("kept");
    let doomed = preview_spec("doomed");
    provision(&driver, &kept).await;
    let data = provision(&driver, &doomed).await;
    fly.insert_app("unrelated-app", ORG);

    assert_eq!(listed_app_ids(&driver).await, ["doomed", "kept"]);

    driver.destroy(&doomed.app_id, &data).await.unwrap();
    driver.destroy(&doomed.app_id, &data).await.unwrap();

    assert!(fly.app("preview-doomed").is_none());
    assert_eq!(
        driver
            .state(&doomed.app_id, &DriverData::new())
            .await
            .unwrap(),
        MachineState::Absent
    );
    assert_eq!(listed_app_ids(&driver).await, ["kept"]);
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_discarded_machine_is_replaced_by_the_create_step() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("wedged");
    let mut data = provision(&driver, &spec).await;
    let old = machine_id(&data);
    assert!(fly.set_machine_state("preview-wedged", &old, "starting"));

    let resume_at = driver
        .discard_machine(&spec.app_id, &mut data)
        .await
        .unwrap();
    assert_eq!(resume_at, FlyStep::CreateMachine.step());
    let steps = driver.steps();
    let from = steps.iter().position(|step| *step == resume_at).unwrap();
    for step in &steps[from..] {
        driver.run_step(*step, &spec, &mut data).await.unwrap();
    }

    let live = fly.live_machines("preview-wedged");
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id, old);
    assert_eq!(live[0].state, "started");
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_leases_round_trip() {
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("leased");
    let data = provision(&driver, &spec).await;
    let client = driver.client();
    let machine_id = &machine_id(&data);

    let lease = client
        .acquire_lease("preview-leased", machine_id, 30, "test")
        .await
        .unwrap();
    assert!(!lease.nonce.is_empty());
    assert_eq!(
        client
            .get_lease("preview-leased", machine_id)
            .await
            .unwrap()
            .nonce,
        lease.nonce
    );
    // Without the nonce, a leased machine refuses to stop.
    let refused = client
        .suspend_machine("preview-leased", machine_id, None)
        .await;
    assert!(
        matches!(refused, Err(FlyError::Unexpected { status: 409, .. })),
        "{refused:?}"
    );
    client
        .suspend_machine("preview-leased", machine_id, Some(&lease.nonce))
        .await
        .unwrap();
    client
        .release_lease("preview-leased", machine_id, &lease.nonce)
        .await
        .unwrap();
    assert_spec_clean(&fly);
}

#[tokio::test]
async fn fly_emulator_refuses_requests_that_drift_from_the_spec() {
    let fly = FlyEmulator::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/apps", fly.base_url());

    let drifted = http
        .post(&url)
        .bearer_auth("token")
        .json(&serde_json::json!({"app_name": "preview-x", "org_slug": ORG}))
        .send()
        .await
        .unwrap();
    let status = drifted.status().as_u16();
    let body: serde_json::Value = drifted.json().await.unwrap();
    let undeclared = http
        .delete(format!("{url}/preview-x?purge=true"))
        .bearer_auth("token")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();

    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("$.app_name"),
        "{body}"
    );
    assert_eq!(undeclared, 400);
    assert_eq!(fly.rejected_calls().len(), 2);
    assert!(fly.app_names().is_empty());
}
