//! The Fly Machines API calls the Fly platform is expected to make, by the
//! emulator's operation ids, written once for the driver tests and the
//! end-to-end lifecycle tests.

/// A first provisioning from nothing: the app (read back until it answers,
/// as Fly's reads lag its writes), its two IPs (after listing none), the
/// secrets, the machine (after listing none), then waiting for it to start
/// and reading it once more: started is not ready until no exit shows in its
/// events and its gateway check passes.
/// Exact on an emulator without lags (`FlyEmulator::start_without_lags`).
pub const FIRST_PROVISION: [&str; 11] = [
    "Apps_create",
    "Apps_show",
    "App_IPAssignments_list",
    "App_IPAssignments_create",
    "App_IPAssignments_create",
    "Secrets_update",
    "Machines_list",
    "Machines_create",
    "Machines_show",
    "Machines_wait",
    "Machines_show",
];

/// The preview's recorded steps on the Fly platform, in order.
pub const PROVISION_STEPS: [&str; 6] = [
    "create_app",
    "assign_ips",
    "set_secrets",
    "create_machine",
    "wait_started",
    "wait_url",
];
