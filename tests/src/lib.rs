//! Support for the end-to-end tests: spawning the real binaries on port 0
//! with temporary directories, and the Fly Machines API emulator.
pub mod daemon;
pub mod fly_emulator;
pub mod lifecycle_client;
pub mod provisioner;
