//! One instance: the app locks and task leases are async mutexes in this
//! process, one per app (or task) that ever asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sync_protocol::AppId;
use tokio::sync::OwnedMutexGuard;

use super::{AppLock, Coordination, TaskLease};
use crate::store::StoreError;

#[derive(Clone, Debug, Default)]
pub struct LocalCoordination {
    apps: Arc<Locks<AppId>>,
    tasks: Arc<Locks<String>>,
}

/// A std mutex around the map: held only to fetch or insert an entry.
#[derive(Debug)]
struct Locks<K>(Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>);

impl<K> Default for Locks<K> {
    fn default() -> Self {
        Locks(Mutex::new(HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq + Clone> Locks<K> {
    fn of(&self, key: &K) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        Arc::clone(locks.entry(key.clone()).or_default())
    }
}

struct LocalLease(#[allow(dead_code)] OwnedMutexGuard<()>);

#[async_trait]
impl TaskLease for LocalLease {
    async fn still_held(&mut self) -> bool {
        true
    }
}

impl LocalCoordination {
    /// The app's in-process lock, waited for: `postgres` takes it first so
    /// one instance holds one database connection per app at most.
    pub(crate) async fn lock_owned(&self, app_id: &AppId) -> OwnedMutexGuard<()> {
        self.apps.of(app_id).lock_owned().await
    }

    pub(crate) fn try_lock_owned(&self, app_id: &AppId) -> Option<OwnedMutexGuard<()>> {
        self.apps.of(app_id).try_lock_owned().ok()
    }
}

#[async_trait]
impl Coordination for LocalCoordination {
    async fn lock_app(&self, app_id: &AppId) -> Result<AppLock, StoreError> {
        Ok(AppLock::new(self.lock_owned(app_id).await))
    }

    async fn try_lock_app(&self, app_id: &AppId) -> Result<Option<AppLock>, StoreError> {
        Ok(self.try_lock_owned(app_id).map(AppLock::new))
    }

    async fn try_lease(&self, task: &str) -> Result<Option<Box<dyn TaskLease>>, StoreError> {
        let lease = self.tasks.of(&task.to_owned()).try_lock_owned().ok();
        Ok(lease.map(|guard| Box::new(LocalLease(guard)) as Box<dyn TaskLease>))
    }
}
