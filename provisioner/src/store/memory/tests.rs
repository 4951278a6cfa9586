//! The in-memory store passes the same contract as the databases.

use super::MemoryStore;
use crate::store::coordination::LocalCoordination;

async fn handles() -> ((), MemoryStore, MemoryStore) {
    let store = MemoryStore::default();
    ((), store.clone(), store)
}

crate::store_conformance_tests!(handles().await);

async fn coordination() -> ((), LocalCoordination, LocalCoordination) {
    let coordination = LocalCoordination::default();
    ((), coordination.clone(), coordination)
}

crate::coordination_conformance_tests!(coordination().await);
