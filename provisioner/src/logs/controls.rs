//! Restart and rebuild, asked by the operator and carried out by the
//! preview's daemon: asked here (kept in the store, numbered per app), and
//! waited for by the daemon's held request, which wakes at once for a
//! control asked on this instance and re-reads the store every
//! [`FOLLOW_POLL`] for one asked on another.

use std::sync::Arc;
use std::time::Duration;

use sync_protocol::AppId;
use sync_protocol::controls::{Control, ControlKind};
use tokio::sync::broadcast;

use super::FOLLOW_POLL;
use crate::store::StoreError;
use crate::store::logs::ControlStore;

/// The longest a daemon's request for controls is held.
pub const MAX_CONTROL_WAIT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct ControlService {
    store: Arc<dyn ControlStore>,
    asked: broadcast::Sender<AppId>,
}

impl ControlService {
    pub fn new(store: Arc<dyn ControlStore>) -> ControlService {
        ControlService {
            store,
            asked: broadcast::channel(64).0,
        }
    }

    pub async fn request(&self, app_id: &AppId, kind: ControlKind) -> Result<Control, StoreError> {
        let control = self.store.request_control(app_id, kind).await?;
        let _ = self.asked.send(app_id.clone());
        Ok(control)
    }

    /// The newest control once its number is above `after`, or `None` when
    /// `wait` (at most [`MAX_CONTROL_WAIT`]) ends first.
    pub async fn after(
        &self,
        app_id: &AppId,
        after: u64,
        wait: Duration,
    ) -> Result<Option<Control>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait.min(MAX_CONTROL_WAIT);
        let mut asked = self.asked.subscribe();
        loop {
            let newest = self.store.latest_control(app_id).await?;
            if let Some(control) = newest.filter(|control| control.seq > after) {
                return Ok(Some(control));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let poll = (now + FOLLOW_POLL).min(deadline);
            // Until this app's control is asked here, the channel lags or the poll is due.
            while let Ok(Ok(asked_for)) = tokio::time::timeout_at(poll, asked.recv()).await {
                if asked_for == *app_id {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn a_held_request_answers_the_next_control_at_once_and_nothing_after_its_wait() {
        let service = ControlService::new(Arc::new(MemoryStore::default()));
        let app_id = AppId::parse("held").unwrap();
        let quiet = service
            .after(&app_id, 0, Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(quiet, None);

        let waiting = {
            let (service, app_id) = (service.clone(), app_id.clone());
            tokio::spawn(async move { service.after(&app_id, 0, Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        let asked = service
            .request(&app_id, ControlKind::Rebuild)
            .await
            .unwrap();
        let answered = waiting.await.unwrap().unwrap();
        assert_eq!(answered, Some(asked));
        assert!(started.elapsed() < FOLLOW_POLL, "woken, not polled");
        let seen = service
            .after(&app_id, asked.seq, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(seen, None, "a control seen is not answered again");
    }
}
