//! `POST /__preview/events`: what the page script reports. Anyone who can
//! open the preview can call it, so it is bounded: a body of at most
//! [`MAX_EVENT_BYTES`], texts cut to [`MAX_TEXT_CHARS`], at most
//! [`EVENTS_PER_SECOND`] events a second for the whole preview, and only
//! from the preview's own origin. An accepted event goes to the render task,
//! which ties it to the applied revision; the answer names that revision and
//! the verdict, which the script passes on to the editor window.
//!
//! An `hmr-applied` event says how long ago its HMR message reached the
//! page (`age_ms`); the event is delivered with the dev server's push that
//! message was (`hmr::HmrPushes`), so an update about the revision before
//! does not count for the one on disk.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sync_protocol::render::{PageEvent, PageEventType, RenderState};
use tokio::sync::{mpsc, oneshot};

use super::hmr::HmrPushes;

pub const MAX_EVENT_BYTES: usize = 8 * 1024;
pub const MAX_TEXT_CHARS: usize = 1000;
pub const EVENTS_PER_SECOND: u32 = 50;
/// Events waiting for the render task; more are refused, not queued.
const QUEUED: usize = 64;

/// What the script learns back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ack {
    pub revision: Option<u64>,
    pub state: Option<RenderState>,
}

/// One accepted event on its way to the render task.
#[derive(Debug)]
pub struct Delivery {
    pub event: PageEvent,
    /// For an `hmr-applied` event, when the dev server pushed the message
    /// it answers; `None` when that is not known.
    pub pushed_at: Option<Instant>,
    pub reply: oneshot::Sender<Ack>,
}

/// The body as the page script sends it.
#[derive(Deserialize)]
struct Incoming {
    #[serde(flatten)]
    event: PageEvent,
    /// How long before sending the page got what it reports (its HMR
    /// message), in milliseconds of its own clock.
    #[serde(default)]
    age_ms: Option<u64>,
}

/// The gateway's end: accepts events within the bounds.
#[derive(Clone, Debug)]
pub struct PageInbox {
    sender: mpsc::Sender<Delivery>,
    window: Arc<Mutex<(Instant, u32)>>,
    pushes: HmrPushes,
}

impl PageInbox {
    /// Ties `hmr-applied` events to the pushes noted in `pushes`.
    pub fn new(pushes: HmrPushes) -> (PageInbox, mpsc::Receiver<Delivery>) {
        let (sender, receiver) = mpsc::channel(QUEUED);
        let window = Arc::new(Mutex::new((Instant::now(), 0)));
        (
            PageInbox {
                sender,
                window,
                pushes,
            },
            receiver,
        )
    }

    fn within_rate(&self) -> bool {
        let mut window = self.window.lock().expect("rate window poisoned");
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= EVENTS_PER_SECOND
    }

    /// The whole route: checks, hands over, answers.
    pub async fn receive(&self, headers: &HeaderMap, body: Bytes) -> Response {
        if !same_origin(headers) {
            return refuse(
                StatusCode::FORBIDDEN,
                "page_event_origin",
                "page events are accepted from the preview's own pages only",
            );
        }
        if body.len() > MAX_EVENT_BYTES {
            return too_large();
        }
        if !self.within_rate() {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "page_events_rate_limited",
                &format!("at most {EVENTS_PER_SECOND} page events a second are taken; send fewer"),
            );
        }
        let Ok(Incoming { mut event, age_ms }) = serde_json::from_slice::<Incoming>(&body) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "page_event_invalid",
                "a page event is JSON with a known `type` (error, rejection, overlay, console-error, hmr-applied, load, navigation)",
            );
        };
        bound(&mut event);
        let pushed_at = match (event.event_type, age_ms) {
            (PageEventType::HmrApplied, Some(age)) => {
                self.pushes.answering(Duration::from_millis(age))
            }
            _ => None,
        };
        let (reply, answer) = oneshot::channel();
        let delivery = Delivery {
            event,
            pushed_at,
            reply,
        };
        if self.sender.try_send(delivery).is_err() {
            return refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "page_events_rate_limited",
                "the preview is busy taking page events; send fewer",
            );
        }
        match tokio::time::timeout(Duration::from_secs(2), answer).await {
            Ok(Ok(ack)) => (StatusCode::OK, Json(ack)).into_response(),
            _ => refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "page_events_unavailable",
                "the preview is not taking page events now; retry shortly",
            ),
        }
    }
}

/// The answer to a body over [`MAX_EVENT_BYTES`].
pub fn too_large() -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        "page_event_too_large",
        &format!("a page event is at most {MAX_EVENT_BYTES} bytes; send a shorter message"),
    )
}

/// Texts cut to their bound; the revision is the daemon's to set.
fn bound(event: &mut PageEvent) {
    event.revision = None;
    for text in [&mut event.message, &mut event.file, &mut event.url]
        .into_iter()
        .flatten()
    {
        if let Some((index, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
            text.truncate(index);
        }
    }
}

/// No `Origin` (a same-origin `GET`-like send), or one naming the host the
/// request came to (as the edge proxy forwarded it, or its `Host`).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|value| value.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

#[cfg(test)]
#[path = "page_events_tests.rs"]
mod tests;
