//! Preview lifecycle: provision, wake, activity, idle stop, delete, reconcile.
//!
//! [`service::LifecycleService`] is the one place a preview's state changes;
//! it drives a [`driver::PreviewDriver`] (Fly or local) and records every
//! step in a [`crate::store::previews::PreviewStore`]. The background loops
//! (`idle_reaper`, `ttl_sweeper`, `reconciler`) are input-less activations on
//! an interval that call into the service.

pub mod activity;
pub mod app_files;
pub mod background;
pub mod clock;
pub mod driver;
pub mod error;
pub mod fly_driver;
pub mod idle_reaper;
pub mod local;
pub mod memory_driver;
pub mod model;
mod power;
mod provision;
pub mod reconciler;
pub mod service;
pub mod setup;
pub mod single_flight;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reconciler;
pub mod ttl_sweeper;
pub mod view;

pub use error::LifecycleError;
pub use model::{PreviewRecord, PreviewState};
pub use power::unshare;
pub use service::{LifecycleConfig, LifecycleService};
