//! What the preview shows, on the provisioner's side: a write that waits
//! for it (`?wait=rendered&timeout=S` on `PUT`/`DELETE .../files/{path}`
//! and `POST .../files`), and the `render` events of the preview's event
//! stream.
//!
//! Both read the render verdict the preview's daemon reported (kept with its
//! sync status), so they work on any instance: a report landing here wakes
//! them at once ([`RenderWatch`]), one landing on another instance is seen
//! by a short poll of the store ([`POLL`]).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Json;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Deserialize;
use sync_protocol::render::{
    RenderReport, RenderState, RenderWait, WaitOutcome, WrittenAndRendered,
};
use sync_protocol::{AppId, REVISION_HEADER, WriteResponse};
use tokio::sync::watch;
use utoipa::IntoParams;

use super::{ApiError, AppState};
use crate::lifecycle::model::PreviewState;
use crate::store::WriteOutcome;

/// The longest a write may wait for its render.
pub const MAX_WAIT_SECONDS: u64 = 120;
/// When `timeout` is not given.
pub const DEFAULT_WAIT_SECONDS: u64 = 30;
/// How often a waiter reads the store for a report another instance took.
pub const POLL: Duration = Duration::from_millis(100);

/// Wakes waiters and event streams when a render report lands here.
#[derive(Clone, Debug)]
pub struct RenderWatch {
    sender: watch::Sender<u64>,
}

impl Default for RenderWatch {
    fn default() -> RenderWatch {
        RenderWatch {
            sender: watch::channel(0).0,
        }
    }
}

impl RenderWatch {
    pub fn notify(&self) {
        self.sender
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}

/// `?wait=rendered&timeout=S` of a write.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenderWaitQuery {
    /// `rendered`: answer once the preview shows the write's revision (or
    /// an error for it, or `timeout` passed), with `render` in the answer.
    #[param(pattern = "^rendered$")]
    wait: Option<String>,
    /// Seconds to wait at most with `wait=rendered`: 30 when absent, at most 120.
    #[param(maximum = 120)]
    timeout: Option<u64>,
}

impl RenderWaitQuery {
    /// `None` without `wait`; the bound of the wait with `wait=rendered`.
    pub fn limit(&self) -> Result<Option<Duration>, ApiError> {
        match self.wait.as_deref() {
            None => return Ok(None),
            Some("rendered") => {}
            Some(other) => {
                return Err(ApiError::bad_request(
                    "wait_invalid",
                    format!("wait={other:?} is not known; use wait=rendered"),
                ));
            }
        }
        let seconds = self.timeout.unwrap_or(DEFAULT_WAIT_SECONDS);
        if seconds > MAX_WAIT_SECONDS {
            return Err(ApiError::bad_request(
                "timeout_too_long",
                format!(
                    "timeout is at most {MAX_WAIT_SECONDS} seconds; pass ?timeout={MAX_WAIT_SECONDS} or less"
                ),
            ));
        }
        Ok(Some(Duration::from_secs(seconds)))
    }
}

/// The verdict for `revision` or a later one, if final (`rendered`/`error`).
pub fn settled(report: Option<&RenderReport>, revision: u64) -> Option<WaitOutcome> {
    let report = report.filter(|report| report.revision >= revision)?;
    match report.state {
        RenderState::Rendered => Some(WaitOutcome::Rendered),
        RenderState::Error => Some(WaitOutcome::Error),
        RenderState::Applied | RenderState::Compiled => None,
    }
}

/// Waits until the preview shows `revision` or failed to, or `limit` passes.
pub async fn wait_for(
    state: &AppState,
    app_id: &AppId,
    revision: u64,
    limit: Duration,
) -> Result<RenderWait, ApiError> {
    let started = Instant::now();
    let running = matches!(
        state.lifecycle.get(app_id).await,
        Ok(record) if record.state == PreviewState::Running
    );
    let mut wake = state.renders.subscribe();
    let mut report = current(state, app_id).await?;
    if !running {
        return Ok(answer(WaitOutcome::NoPreview, revision, report, started));
    }
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(outcome) = settled(report.as_ref(), revision) {
            return Ok(answer(outcome, revision, report, started));
        }
        let woken = tokio::time::timeout_at(
            deadline.min(tokio::time::Instant::now() + POLL),
            wake.changed(),
        )
        .await;
        if tokio::time::Instant::now() >= deadline {
            report = current(state, app_id).await?;
            let outcome = settled(report.as_ref(), revision).unwrap_or(WaitOutcome::Timeout);
            return Ok(answer(outcome, revision, report, started));
        }
        if matches!(woken, Ok(Err(_))) {
            tokio::time::sleep(POLL).await;
        }
        report = current(state, app_id).await?;
    }
}

async fn current(state: &AppState, app_id: &AppId) -> Result<Option<RenderReport>, ApiError> {
    Ok(state
        .sync_tokens
        .sync_status(app_id)
        .await?
        .and_then(|status| status.report.render))
}

fn answer(
    outcome: WaitOutcome,
    revision: u64,
    report: Option<RenderReport>,
    started: Instant,
) -> RenderWait {
    let about = report
        .as_ref()
        .filter(|report| report.revision >= revision)
        .map_or(revision, |report| report.revision);
    let message = match outcome {
        WaitOutcome::Rendered => format!("the preview shows revision {about}"),
        WaitOutcome::Error => format!("revision {about} produced an error; see `error`"),
        WaitOutcome::Timeout => format!(
            "revision {revision} was not shown within the timeout; `state` is how far it got"
        ),
        WaitOutcome::NoPreview => {
            "no preview is running for this app; the files are saved, nothing renders them"
                .to_owned()
        }
    };
    let shown = report.filter(|report| report.revision >= revision);
    RenderWait {
        outcome,
        revision: about,
        state: shown.as_ref().map(|report| report.state),
        error: shown.and_then(|report| report.error),
        waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        message,
    }
}

/// A write's answer: as usual without `wait`, else once its render settled
/// (or the wait ran out), with `render` beside the usual fields.
pub async fn written_then_rendered(
    state: &AppState,
    app_id: &AppId,
    outcome: WriteOutcome,
    wait: Option<Duration>,
) -> Result<Response, ApiError> {
    let Some(limit) = wait else {
        return Ok(super::files::written(outcome));
    };
    let render = wait_for(state, app_id, outcome.revision, limit).await?;
    let body = WrittenAndRendered {
        write: WriteResponse {
            revision: outcome.revision,
            changed: outcome.changed,
        },
        render,
    };
    Ok((
        [(REVISION_HEADER, outcome.revision.to_string())],
        Json(body),
    )
        .into_response())
}

/// `render` events for the preview's event stream: the verdict each time it
/// changes (the first one too, when there is one).
pub fn events(state: AppState, app_id: AppId) -> impl Stream<Item = Result<Event, Infallible>> {
    let wake = state.renders.subscribe();
    futures::stream::unfold(
        (state, app_id, wake, None::<RenderReport>),
        |(state, app_id, mut wake, last)| async move {
            loop {
                let report = current(&state, &app_id).await.ok().flatten();
                if report.is_some() && report != last {
                    let event = Event::default()
                        .event("render")
                        .json_data(&report)
                        .unwrap_or_else(|_| Event::default().event("render").data("{}"));
                    return Some((Ok(event), (state, app_id, wake, report)));
                }
                if let Ok(Err(_)) = tokio::time::timeout(POLL, wake.changed()).await {
                    tokio::time::sleep(POLL).await;
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(revision: u64, state: RenderState) -> RenderReport {
        RenderReport {
            revision,
            state,
            error: None,
            url: None,
            events: Vec::new(),
        }
    }

    #[test]
    fn a_wait_ends_on_a_final_verdict_for_its_revision_or_a_later_one() {
        let cases = [
            (None, 3, None),
            (Some(report(2, RenderState::Rendered)), 3, None),
            (Some(report(3, RenderState::Applied)), 3, None),
            (Some(report(3, RenderState::Compiled)), 3, None),
            (
                Some(report(3, RenderState::Rendered)),
                3,
                Some(WaitOutcome::Rendered),
            ),
            (
                Some(report(3, RenderState::Error)),
                3,
                Some(WaitOutcome::Error),
            ),
            (
                Some(report(4, RenderState::Rendered)),
                3,
                Some(WaitOutcome::Rendered),
            ),
        ];
        for (report, revision, expected) in cases {
            assert_eq!(
                settled(report.as_ref(), revision),
                expected,
                "{report:?} {revision}"
            );
        }
    }

    #[test]
    fn the_wait_is_bounded_with_named_errors() {
        let query = |wait: Option<&str>, timeout: Option<u64>| RenderWaitQuery {
            wait: wait.map(str::to_owned),
            timeout,
        };
        assert_eq!(query(None, Some(5)).limit().unwrap(), None);
        assert_eq!(
            query(Some("rendered"), None).limit().unwrap(),
            Some(Duration::from_secs(DEFAULT_WAIT_SECONDS))
        );
        assert_eq!(
            query(Some("rendered"), Some(MAX_WAIT_SECONDS))
                .limit()
                .unwrap(),
            Some(Duration::from_secs(MAX_WAIT_SECONDS))
        );
        let too_long = query(Some("rendered"), Some(MAX_WAIT_SECONDS + 1))
            .limit()
            .unwrap_err();
        assert_eq!(too_long.code, "timeout_too_long");
        let unknown = query(Some("compiled"), None).limit().unwrap_err();
        assert_eq!(unknown.code, "wait_invalid");
    }
}
