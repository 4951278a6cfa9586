//! `PostgresStore` itself, through two handles on one fresh database (as two
//! instances hold them): the store contract every backend passes, and the
//! coordination contract (advisory locks), from
//! `provisioner::store::conformance`. What only several instances show
//! (wake-ups across instances, a lost listening connection) is in `postgres`.

use provisioner::store::{PostgresCoordination, PostgresStore};

use crate::postgres_support::fresh_database;

async fn two_handles() -> ((), PostgresStore, PostgresStore) {
    let url = fresh_database().await.unwrap();
    let first = PostgresStore::open(&url).await.unwrap();
    let second = PostgresStore::open(&url).await.unwrap();
    ((), first, second)
}

provisioner::store_conformance_tests!(two_handles().await);

async fn two_instances() -> ((), PostgresCoordination, PostgresCoordination) {
    let ((), first, second) = two_handles().await;
    ((), first.coordination(), second.coordination())
}

provisioner::coordination_conformance_tests!(two_instances().await);
