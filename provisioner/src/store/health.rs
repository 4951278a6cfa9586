//! What an instance asks of its store about the store itself: which store it
//! is (its identity, made once with it) and whether it can serve (`/readyz`).
//!
//! The identity lets a daemon tell "revision 12 of this store" from
//! "revision 12 of the store that was here before": revisions restart at 1
//! in a new store, so a `since` kept from another one would read a wrong
//! delta. Every manifest answer and ETag carries it.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait StoreHealth: Send + Sync + 'static {
    /// The store's identity: made when the store was created, the same for
    /// every instance sharing it, never changed after.
    async fn identity(&self) -> Result<String, StoreError>;

    /// `Ok` when the database answers and every migration this build knows
    /// is applied; the error says which of the two failed.
    async fn readiness(&self) -> Result<(), StoreError>;
}
