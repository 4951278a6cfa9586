//! The lifecycle's own errors; `http::previews` maps them to status codes.

use sync_protocol::AppId;

use crate::lifecycle::driver::DriverError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no preview for app {0}; provision it first")]
    NotFound(AppId),
    #[error("the preview of app {app_id} is {state}; {hint}")]
    WrongState {
        app_id: AppId,
        state: &'static str,
        hint: &'static str,
    },
    #[error("the preview of app {app_id} is {state}, not running: there is nothing to stop")]
    NotRunning { app_id: AppId, state: &'static str },
    #[error(
        "the preview of app {0} did not become ready in time; it keeps starting in the background"
    )]
    Timeout(AppId),
    #[error("the platform refused: {0}")]
    Driver(#[from] DriverError),
    #[error("preview store: {0:#}")]
    Store(StoreError),
    #[error("files store: {0:#}")]
    Files(anyhow::Error),
    /// The failure of an operation several callers shared.
    #[error("{0}")]
    Shared(std::sync::Arc<LifecycleError>),
    /// A lifecycle task panicked or was cancelled.
    #[error("internal: {0}")]
    Internal(String),
}

impl LifecycleError {
    /// Whether a later attempt may succeed (the reconciler will retry).
    pub fn is_transient(&self) -> bool {
        match self {
            LifecycleError::Driver(DriverError::Transient(_)) => true,
            LifecycleError::Driver(_) => false,
            LifecycleError::Shared(inner) => inner.is_transient(),
            LifecycleError::Store(_)
            | LifecycleError::Files(_)
            | LifecycleError::Timeout(_)
            | LifecycleError::Internal(_) => true,
            LifecycleError::NotFound(_)
            | LifecycleError::WrongState { .. }
            | LifecycleError::NotRunning { .. } => false,
        }
    }
}
