//! The Fly driver under injected faults, and what the Fly client logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use preview_tests::fly_emulator::{EmulatorConfig, Faults, FlyEmulator};
use provisioner::fly::FlyDriver;
use provisioner::lifecycle::driver::{DriverData, DriverError, PreviewDriver, PreviewSpec};
use tracing_subscriber::fmt::MakeWriter;

use crate::fly_client::{assert_spec_clean, driver, preview_spec};

/// Runs every step, retrying one that fails transiently the way the
/// lifecycle service does, a bounded number of times.
async fn provision_with_retries(driver: &FlyDriver, spec: &PreviewSpec) -> DriverData {
    let mut data = DriverData::new();
    for step in driver.steps() {
        let mut attempts = 0;
        loop {
            match driver.run_step(step, spec, &mut data).await {
                Ok(_) => break,
                Err(DriverError::Transient(reason)) if attempts < 8 => {
                    attempts += 1;
                    tracing::debug!(%step, %reason, "retrying step");
                }
                Err(error) => panic!("{}: {step}: {error}", spec.app_id),
            }
        }
    }
    data
}

#[tokio::test]
async fn fly_provisions_converge_under_429s_5xx_and_latency_spikes() {
    let faults = Faults {
        rate_429: 0.15,
        rate_5xx: 0.15,
        retry_after_seconds: 0,
        latency: Duration::from_millis(1),
        spike_rate: 0.05,
        spike: Duration::from_millis(50),
    };
    let fly = FlyEmulator::start_with(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let driver = driver(&fly);
    let specs: Vec<PreviewSpec> = (0..10)
        .map(|n| preview_spec(&format!("faulty-{n}")))
        .collect();

    let provisions = specs
        .iter()
        .map(|spec| provision_with_retries(&driver, spec));
    futures::future::join_all(provisions).await;

    let mut expected: Vec<String> = specs
        .iter()
        .map(|spec| spec.app_id.preview_name())
        .collect();
    expected.sort();
    assert_eq!(fly.app_names(), expected);
    for name in &expected {
        let machines = fly.live_machines(name);
        assert_eq!(machines.len(), 1, "{name} has {} machines", machines.len());
        assert_eq!(machines[0].state, "started");
        assert_eq!(fly.app(name).unwrap().ips.len(), 2, "{name}");
    }
    let failed = fly
        .calls()
        .iter()
        .filter(|call| call.status == 429 || call.status >= 500)
        .count();
    assert!(failed > 0, "the faults were injected");
    assert_spec_clean(&fly);
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn fly_logs_request_ids_and_never_the_token_or_secrets() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let fly = FlyEmulator::start().await;
    let driver = driver(&fly);
    let spec = preview_spec("logged");
    fly.fail_nth_call("Apps_create", 1, 503);

    provision_with_retries(&driver, &spec).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("fly_request_id=01emulated"), "{logs}");
    assert!(
        logs.contains("status=503"),
        "the error answer is logged: {logs}"
    );
    // The client's token (see `client()`), the sync token and the server URL stay out.
    assert!(!logs.contains("test-token"), "{logs}");
    assert!(!logs.contains(&spec.sync_token.expose()), "{logs}");
    assert!(!logs.contains(&spec.server_url), "{logs}");
    assert_spec_clean(&fly);
}
