//! One in-flight operation per app, shared by every caller that asks for it
//! meanwhile: fifty concurrent wakes of one preview make one driver call.
//!
//! The work runs on its own task, so it finishes (and records its outcome)
//! even when every caller gave up waiting or disconnected.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use sync_protocol::AppId;

use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::model::PreviewRecord;

/// What a shared operation ends with; the error is shared by every waiter.
pub type Outcome = Result<PreviewRecord, Arc<LifecycleError>>;
pub type InFlight = Shared<BoxFuture<'static, Outcome>>;

#[derive(Default)]
pub struct SingleFlight {
    in_flight: Arc<Mutex<HashMap<AppId, InFlight>>>,
}

impl SingleFlight {
    /// The operation in flight for `app_id`, or a new one running `work`.
    pub fn join<F>(&self, app_id: &AppId, work: impl FnOnce() -> F) -> InFlight
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = in_flight.get(app_id) {
            return existing.clone();
        }
        let work = work();
        let registry = Arc::clone(&self.in_flight);
        let key = app_id.clone();
        let task = tokio::spawn(async move {
            let outcome = work.await;
            registry
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&key);
            outcome
        });
        let shared = async move {
            match task.await {
                Ok(outcome) => outcome,
                Err(join_error) => Err(Arc::new(LifecycleError::Internal(join_error.to_string()))),
            }
        }
        .boxed()
        .shared();
        in_flight.insert(app_id.clone(), shared.clone());
        shared
    }

    pub fn is_running(&self, app_id: &AppId) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains_key(app_id)
    }
}
