//! Coordination between instances that share a store: one operation per app
//! at a time across every instance, and one instance at a time running each
//! background task. Nothing home-made: on PostgreSQL both are the database's
//! advisory locks (`postgres`), held on a connection of their own, so an
//! instance that dies (kill -9, a lost network) lets go the moment its
//! session ends. With one instance (SQLite, the in-memory store) they are
//! in-process locks (`local`), as before.
//!
//! A provision or a wake is coalesced across instances by the lock itself:
//! the second caller waits for the first's operation to end, then re-reads
//! the preview and finds it done.

mod local;

use async_trait::async_trait;
use sync_protocol::AppId;

pub use local::LocalCoordination;

use super::StoreError;

/// Held while an app's operation runs; dropping it lets the next one in.
pub struct AppLock {
    _held: Box<dyn Send + Sync>,
}

impl AppLock {
    pub(crate) fn new(held: impl Send + Sync + 'static) -> AppLock {
        AppLock {
            _held: Box::new(held),
        }
    }
}

/// A background task's lease, kept across passes by the instance that took
/// it; dropping it hands the task to whichever instance asks next.
#[async_trait]
pub trait TaskLease: Send + Sync {
    /// Whether the lease is still this instance's (its connection alive).
    async fn still_held(&mut self) -> bool;
}

#[async_trait]
pub trait Coordination: Send + Sync + 'static {
    /// Waits until no instance runs an operation on `app_id`, then holds it.
    async fn lock_app(&self, app_id: &AppId) -> Result<AppLock, StoreError>;

    /// The app's lock if no instance holds it now: background tasks skip a
    /// busy app instead of queueing behind a long provisioning.
    async fn try_lock_app(&self, app_id: &AppId) -> Result<Option<AppLock>, StoreError>;

    /// The lease of the task named `task`, if no instance holds it.
    async fn try_lease(&self, task: &str) -> Result<Option<Box<dyn TaskLease>>, StoreError>;
}
