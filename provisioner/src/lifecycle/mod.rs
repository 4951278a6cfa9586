//! Preview lifecycle: provision, wake, activity, idle stop, delete, reconcile.

pub mod driver;
