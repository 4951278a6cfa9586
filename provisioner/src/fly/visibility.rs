//! Fly's reads lag its writes: right after an app or a machine is created,
//! reads of it can answer 404 (or 401 for an app) for a while. fly-go creates
//! apps with `POST /apps?wait=true` and then `WaitForApp` retries the app's
//! `GET` on 404 and 401 (`flaps/flaps_apps.go`); flyctl retries a new
//! machine's 404. [`until_visible`] is that retry, bounded in time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::error::FlyError;

/// Whether `error` is what a read of something just created answers while Fly catches up.
pub fn is_lag(error: &FlyError) -> bool {
    matches!(
        error,
        FlyError::NotFound { .. } | FlyError::Unexpected { status: 401, .. }
    )
}

/// Runs `read` until it answers something other than a lagging 404/401, or
/// `budget` is spent (then the last answer is returned).
pub async fn until_visible<T, F, Fut>(budget: Duration, mut read: F) -> Result<T, FlyError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, FlyError>>,
{
    let deadline = Instant::now() + budget;
    let mut delay = Duration::from_millis(25);
    loop {
        match read().await {
            Err(error) if is_lag(&error) && Instant::now() + delay < deadline => {
                tracing::debug!(
                    delay_ms = delay.as_millis() as u64,
                    "not visible yet; reading again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_lagging_read_is_retried_until_it_answers() {
        let reads = AtomicU32::new(0);
        let answer = until_visible(Duration::from_secs(5), || async {
            match reads.fetch_add(1, Ordering::SeqCst) {
                0 => Err(FlyError::NotFound {
                    message: String::new(),
                }),
                1 => Err(FlyError::Unexpected {
                    status: 401,
                    body: String::new(),
                }),
                _ => Ok("app"),
            }
        })
        .await;
        assert_eq!(answer.unwrap(), "app");
        assert_eq!(reads.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_read_that_stays_missing_gives_up_within_its_budget() {
        let started = Instant::now();
        let answer: Result<(), FlyError> = until_visible(Duration::from_millis(200), || async {
            Err(FlyError::NotFound {
                message: String::new(),
            })
        })
        .await;
        assert!(answer.unwrap_err().is_not_found());
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let reads = AtomicU32::new(0);
        let answer: Result<(), FlyError> = until_visible(Duration::from_secs(5), || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Err(FlyError::Unexpected {
                status: 403,
                body: String::new(),
            })
        })
        .await;
        assert!(answer.is_err());
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
