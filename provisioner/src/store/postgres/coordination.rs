//! Coordination through PostgreSQL's advisory locks. Each lock held is a
//! session lock on a connection of a pool of its own (`locks`), so holding
//! many never starves the store's queries, and the lock lives exactly as
//! long as its session: released by `pg_advisory_unlock` when the guard is
//! dropped, or by the server when the instance dies and its connections
//! close. An app's operation is also serialized in-process first, so one
//! instance holds one connection per app at most.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;
use sync_protocol::AppId;
use tokio::sync::OwnedMutexGuard;

use crate::store::StoreError;
use crate::store::coordination::{AppLock, Coordination, LocalCoordination, TaskLease};

/// The first key of every app lock (`pg_advisory_lock(class, key)`), so
/// they share no key with other users of the database.
const APP_LOCKS: i32 = 0x7076_0001;
/// The first key of every task lease.
const TASK_LEASES: i32 = 0x7076_0002;

#[derive(Clone, Debug)]
pub struct PostgresCoordination {
    locks: PgPool,
    local: LocalCoordination,
}

/// A session lock held on `connection`; unlocked when dropped.
struct Held {
    connection: Option<PoolConnection<Postgres>>,
    class: i32,
    key: i32,
    /// Released only after the database lock, so the next operation of this
    /// instance never queues on the database behind its own predecessor.
    local: Option<OwnedMutexGuard<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(mut connection) = self.connection.take() else {
            return;
        };
        let (class, key, local) = (self.class, self.key, self.local.take());
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let unlocked: Result<bool, _> =
                        sqlx::query_scalar("SELECT pg_advisory_unlock($1, $2)")
                            .bind(class)
                            .bind(key)
                            .fetch_one(&mut *connection)
                            .await;
                    if !matches!(unlocked, Ok(true)) {
                        // Ending the session releases whatever it holds.
                        let _ = connection.close().await;
                    }
                    drop(local);
                });
            }
            // No runtime left to unlock with: closing the socket ends the session.
            Err(_) => drop(connection.detach()),
        }
    }
}

/// An `i32` key for a name: the first bytes of its sha256. Two names that
/// share one only take turns needlessly.
fn key_of(name: &str) -> i32 {
    let digest = Sha256::digest(name.as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl PostgresCoordination {
    pub(crate) fn new(locks: PgPool) -> PostgresCoordination {
        PostgresCoordination {
            locks,
            local: LocalCoordination::default(),
        }
    }

    /// Takes (`wait`) or tries the lock on a task of its own: a caller that
    /// stops waiting cannot leave a lock taken on a connection nobody
    /// releases, as the task's result (the guard) is then dropped, unlocking.
    async fn hold(
        &self,
        class: i32,
        name: &str,
        wait: bool,
        local: Option<OwnedMutexGuard<()>>,
    ) -> Result<Option<Held>, StoreError> {
        let pool = self.locks.clone();
        let key = key_of(name);
        let task = tokio::spawn(async move {
            let mut connection = pool.acquire().await?;
            let taken = if wait {
                sqlx::query("SELECT pg_advisory_lock($1, $2)")
                    .bind(class)
                    .bind(key)
                    .execute(&mut *connection)
                    .await?;
                true
            } else {
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(class)
                    .bind(key)
                    .fetch_one(&mut *connection)
                    .await?
            };
            Ok::<_, sqlx::Error>(taken.then(|| Held {
                connection: Some(connection),
                class,
                key,
                local,
            }))
        });
        match task.await {
            Ok(held) => Ok(held?),
            Err(join_error) => Err(StoreError::Backend(anyhow::anyhow!(
                "advisory lock task failed: {join_error}"
            ))),
        }
    }
}

struct Lease(Held);

#[async_trait]
impl TaskLease for Lease {
    async fn still_held(&mut self) -> bool {
        match self.0.connection.as_mut() {
            Some(connection) => sqlx::query("SELECT 1")
                .execute(&mut **connection)
                .await
                .is_ok(),
            None => false,
        }
    }
}

#[async_trait]
impl Coordination for PostgresCoordination {
    async fn lock_app(&self, app_id: &AppId) -> Result<AppLock, StoreError> {
        let local = self.local.lock_owned(app_id).await;
        let held = self
            .hold(APP_LOCKS, app_id.as_str(), true, Some(local))
            .await?;
        held.map(AppLock::new).ok_or_else(|| {
            StoreError::Backend(anyhow::anyhow!(
                "pg_advisory_lock returned without the lock"
            ))
        })
    }

    async fn try_lock_app(&self, app_id: &AppId) -> Result<Option<AppLock>, StoreError> {
        let Some(local) = self.local.try_lock_owned(app_id) else {
            return Ok(None);
        };
        let held = self
            .hold(APP_LOCKS, app_id.as_str(), false, Some(local))
            .await?;
        Ok(held.map(AppLock::new))
    }

    async fn try_lease(&self, task: &str) -> Result<Option<Box<dyn TaskLease>>, StoreError> {
        let held = self.hold(TASK_LEASES, task, false, None).await?;
        Ok(held.map(|held| Box::new(Lease(held)) as Box<dyn TaskLease>))
    }
}
