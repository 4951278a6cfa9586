//! What can go wrong talking to Fly, in terms the lifecycle can act on.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FlyError {
    /// The app, machine or lease does not exist (HTTP 404).
    #[error("fly: not found: {message}")]
    NotFound { message: String },
    /// The app name belongs to someone else (HTTP 422 `name_taken`, and not ours on inspection).
    #[error(
        "fly: app name {name} is held by {holder} (Fly app names are global); \
         set --fly-app-prefix (FLY_APP_PREFIX) to use other names"
    )]
    NameTaken { name: String, holder: String },
    /// HTTP 429 after every retry the time budget allowed.
    #[error("fly: rate limited")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx after every retry the time budget allowed.
    #[error("fly: server error {status}: {body}")]
    Server { status: u16, body: String },
    /// Fly cannot run the machine where it is: a 409/412 capacity answer
    /// ("insufficient memory", `insufficient_capacity`), or a start answered
    /// `status: "error"` (flyctl `internal/command/machine/start.go`). Retrying
    /// the same machine does not help; a new machine is placed elsewhere.
    #[error("fly: the machine cannot run on its host: {message}")]
    Capacity { message: String },
    /// The request never got an answer: connection refused, reset, timed out.
    #[error("fly: transport: {0}")]
    Transport(String),
    /// A `wait` (HTTP 408) or our own deadline ran out before the machine got there.
    #[error("fly: timed out waiting for {what}")]
    Timeout { what: String },
    /// Any other answer: a 4xx we do not expect, or a body that does not parse.
    #[error("fly: unexpected {status}: {body}")]
    Unexpected { status: u16, body: String },
}

impl FlyError {
    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            FlyError::RateLimited { .. }
                | FlyError::Server { .. }
                | FlyError::Transport(_)
                | FlyError::Timeout { .. }
                | FlyError::Capacity { .. }
        ) || matches!(
            self,
            FlyError::Unexpected {
                status: 408 | 409 | 412,
                ..
            }
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, FlyError::NotFound { .. })
    }
}
