//! The preview domain: provision, wake, activity, idle stop, delete,
//! reconcile, written once against the driver seam and knowing nothing of
//! Fly, local processes, HTTP or the command line.
//!
//! [`service::LifecycleService`] is the one place a preview's state changes
//! (`provision` and `power` hold its operations); it drives a
//! [`driver::PreviewDriver`] and records every step in a
//! [`crate::store::previews::PreviewStore`]. The platforms (`crate::fly`,
//! `crate::local`) implement [`driver::PlatformDriver`]. The background
//! tasks in [`tasks`] (idle reaper, TTL sweeper, reconciler) are input-less
//! activations on an interval whose last summaries are kept for `/metrics`
//! and `GET /v1/status`.

pub mod activity;
pub mod app_files;
pub mod clock;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod driver;
mod driver_data;
mod driver_typed;
pub mod error;
#[cfg(any(test, feature = "testing"))]
pub mod memory_driver;
pub mod model;
mod power;
mod provision;
pub mod service;
mod settings;
pub mod single_flight;
pub mod tasks;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reconciler;
pub mod view;

pub use error::LifecycleError;
pub use model::{PreviewRecord, PreviewState};
pub use power::unshare;
pub use service::{Autostop, LifecycleConfig, LifecycleService};
pub use tasks::{idle_reaper, reconciler, ttl_sweeper};
