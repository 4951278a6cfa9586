//! Last activity per app, kept in memory between flushes.
//!
//! Heartbeats arrive every few seconds per open editor and every file write
//! counts as activity too; writing each to the store would cost a database
//! write per request. Instead [`ActivityCache::touch`] records the latest
//! instant in a map and the idle reaper (and shutdown) flushes the map to the
//! store in one pass before deciding anything.

use std::collections::HashMap;
use std::sync::Mutex;

use sync_protocol::AppId;
use time::OffsetDateTime;

#[derive(Debug, Default)]
pub struct ActivityCache {
    /// Activity not yet written to the store. A std mutex: held only for a
    /// map operation, never across an await.
    pending: Mutex<HashMap<AppId, OffsetDateTime>>,
}

impl ActivityCache {
    pub fn touch(&self, app_id: &AppId, now: OffsetDateTime) {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match pending.get_mut(app_id) {
            Some(latest) => *latest = (*latest).max(now),
            None => {
                pending.insert(app_id.clone(), now);
            }
        }
    }

    /// Activity for `app_id` not yet flushed, if any.
    pub fn pending(&self, app_id: &AppId) -> Option<OffsetDateTime> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.get(app_id).copied()
    }

    /// Removes and returns everything not yet flushed.
    pub fn take(&self) -> Vec<(AppId, OffsetDateTime)> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.drain().collect()
    }

    /// Puts back entries whose flush failed, keeping any newer touch.
    pub fn restore(&self, entries: Vec<(AppId, OffsetDateTime)>) {
        for (app_id, at) in entries {
            self.touch(&app_id, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_touch_until_taken() {
        let cache = ActivityCache::default();
        let app_id = AppId::parse("app").unwrap();
        let earlier = OffsetDateTime::UNIX_EPOCH;
        let later = earlier + time::Duration::seconds(5);
        cache.touch(&app_id, later);
        cache.touch(&app_id, earlier);
        assert_eq!(cache.pending(&app_id), Some(later));
        assert_eq!(cache.take(), vec![(app_id.clone(), later)]);
        assert_eq!(cache.pending(&app_id), None);
    }
}
