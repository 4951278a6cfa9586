//! Preview lifecycle: provision, wake, activity, idle stop, delete, reconcile.

pub mod driver;
pub mod local;
