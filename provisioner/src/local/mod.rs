//! The local platform: previews as `sync-daemon --exec` processes on this
//! machine (`driver`: work dirs, launching, crash supervision) and the edge
//! proxy that serves them as `preview-<appId>.localhost` (`proxy`). The proxy
//! finds a preview's port through the driver seam
//! ([`crate::lifecycle::driver::PreviewDriver::loopback_port`]), not through
//! this module's types.

mod args;
pub mod driver;
pub mod proxy;
pub mod sandbox;

pub use args::LocalArgs;
pub use driver::{LocalDriver, LocalDriverConfig, default_daemon_bin};
