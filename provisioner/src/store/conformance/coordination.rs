//! The coordination half of the contract: two handles act as two instances.
//! Run through [`coordination_conformance_tests!`](crate::coordination_conformance_tests).

use std::time::Duration;

use super::app;
use crate::store::coordination::Coordination;

/// Bounds every wait here, so a broken backend fails instead of hanging.
const BOUND: Duration = Duration::from_secs(10);

pub async fn one_operation_per_app_runs_at_a_time_across_handles(
    first: &dyn Coordination,
    second: &dyn Coordination,
) {
    let (busy, other) = (app("busy"), app("other"));
    let held = first.lock_app(&busy).await.unwrap();
    assert!(second.try_lock_app(&busy).await.unwrap().is_none());
    assert!(first.try_lock_app(&busy).await.unwrap().is_none());
    assert!(second.try_lock_app(&other).await.unwrap().is_some());

    // A waiting lock is granted once the holder lets go, and not before.
    let waiting = second.lock_app(&busy);
    tokio::pin!(waiting);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut waiting)
            .await
            .is_err(),
        "granted while another handle held it"
    );
    drop(held);
    let regained = tokio::time::timeout(BOUND, waiting).await;
    assert!(regained.expect("granted after release").is_ok());
}

pub async fn a_task_lease_has_one_holder_until_it_lets_go(
    first: &dyn Coordination,
    second: &dyn Coordination,
) {
    let mut lease = first
        .try_lease("reaper")
        .await
        .unwrap()
        .expect("free lease");
    assert!(second.try_lease("reaper").await.unwrap().is_none());
    assert!(first.try_lease("reaper").await.unwrap().is_none());
    assert!(lease.still_held().await);
    assert!(second.try_lease("sweeper").await.unwrap().is_some());

    drop(lease);
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if second.try_lease("reaper").await.unwrap().is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lease was never released"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One `#[tokio::test]` per coordination conformance function; `$handles`
/// gives `(keep_alive, first, second)`, two handles as two instances.
#[macro_export]
macro_rules! coordination_conformance_tests {
    ($handles:expr) => {
        $crate::coordination_conformance_tests!(@each $handles;
            one_operation_per_app_runs_at_a_time_across_handles,
            a_task_lease_has_one_holder_until_it_lets_go,
        );
    };
    (@each $handles:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_keep_alive, first, second) = $handles;
                $crate::store::conformance::$name(&first, &second).await;
            }
        )*
    };
}
