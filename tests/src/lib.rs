//! Support for the end-to-end tests, the examples and the benchmarks, written
//! once: finding the workspace's binaries and a free port, starting the real
//! binaries on loopback with temporary directories (`provisioner serve` on
//! either driver, `sync-daemon`), the expected Fly call sequences, and the
//! Fly Machines API emulator.
pub mod binaries;
pub mod browser;
pub mod daemon;
pub mod fly_calls;
pub mod fly_emulator;
pub mod git_server;
pub mod launch;
pub mod lifecycle_client;
pub mod local_preview;
pub mod npm_apps;
pub mod processes;
pub mod provisioner;
