//! The in-memory store passes the same contract as the databases.

use super::MemoryStore;

async fn handles() -> ((), MemoryStore, MemoryStore) {
    let store = MemoryStore::default();
    ((), store.clone(), store)
}

crate::store_conformance_tests!(handles().await);
