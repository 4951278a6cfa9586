//! The preview's logs: a daemon ships its batches (`POST .../logs`, sync
//! token); the operator reads a page from a cursor (`GET .../logs?since=`)
//! or follows live (`GET .../logs/stream`, server-sent events: one `line`
//! event per line, its `id` the line's cursor, resumed from `Last-Event-ID`
//! or `?since=`; keep-alive comments while nothing is printed).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use sync_protocol::AppId;
use sync_protocol::logs::{LogBatch, LogPage};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Operator, SyncAgent};
use super::files::{BodyKind, body_rejection};
use super::openapi::{AppPath, ErrorResponse, LogEvent};
use super::{ApiError, AppState};
use crate::logs::{FOLLOW_POLL, LogService, LogsError, MAX_PAGE_LINES, StreamsFull, public_line};

/// How often a quiet stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_logs, post_logs))
        .routes(routes!(stream_logs))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    /// The cursor of the last line already read; 0 (the oldest kept) when absent.
    #[serde(default)]
    since: u64,
    /// The most lines in the page.
    limit: Option<usize>,
}

/// The daemon ships a batch of its preview's output lines.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/logs",
    tag = "logs",
    operation_id = "ship_logs",
    params(AppPath),
    request_body = LogBatch,
    responses(
        (status = 204, description = "Appended"),
        (status = 413, description = "`log_batch_too_large` (more than 1000 lines), `log_line_too_long` (over 400 bytes), `body_too_large`", body = ErrorResponse),
    ),
    security(("sync_token" = [])),
)]
async fn post_logs(
    agent: SyncAgent,
    State(state): State<AppState>,
    body: Result<Json<LogBatch>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(batch) = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::Json)
    })?;
    state.logs.append(&agent.app_id, &batch.lines).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A page of the preview's log after a cursor, oldest first.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/logs",
    tag = "logs",
    operation_id = "get_logs",
    params(AppPath, LogsQuery),
    responses((status = 200, description = "The lines after `since` and the cursor to ask from next", body = LogPage)),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn get_logs(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Result<Json<LogPage>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let limit = query.limit.unwrap_or(MAX_PAGE_LINES);
    Ok(Json(state.logs.page(&app_id, query.since, limit).await?))
}

/// Follows the preview's log live.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/logs/stream",
    tag = "logs",
    operation_id = "follow_logs",
    params(AppPath, LogsQuery, LastEventId),
    responses(
        (status = 200, description = "Server-sent events until the client leaves or the server stops: one `line` event per line, its `id` the line's cursor; `: keep-alive` comments every 15 s", content_type = "text/event-stream", body = LogEvent),
        (status = 400, description = "`last_event_id_invalid`", body = ErrorResponse),
        (status = 429, description = "`too_many_log_streams`: retry after `Retry-After`", body = ErrorResponse, headers(("Retry-After" = u64))),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn stream_logs(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<LogsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let since = match headers.get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "last_event_id_invalid",
                    "Last-Event-ID must be the id of a log event (a line's cursor, a number)",
                )
            })?,
        None => query.since,
    };
    let permit = state.logs.open_stream(&app_id)?;
    let follower = Follower {
        logs: state.logs.clone(),
        appended: state.logs.subscribe(),
        app_id,
        cursor: since,
        pending: std::collections::VecDeque::new(),
        _permit: permit,
    };
    let shutdown = state.lifecycle.shutdown_token();
    let events = futures::stream::unfold(follower, |mut follower| async move {
        let event = follower.next_event().await;
        Some((Ok(event), follower))
    })
    .take_until(async move { shutdown.cancelled_owned().await });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

/// `Last-Event-ID` of a resumed stream.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // A parameter description only.
struct LastEventId {
    /// The `id` of the last event received: the stream resumes after it (instead of `since`).
    #[param(rename = "Last-Event-ID")]
    last_event_id: Option<u64>,
}

/// One stream's place in an app's log.
struct Follower {
    logs: LogService,
    appended: tokio::sync::broadcast::Receiver<(AppId, u64)>,
    app_id: AppId,
    /// The cursor of the last line sent.
    cursor: u64,
    pending: std::collections::VecDeque<crate::store::logs::LogEntry>,
    _permit: crate::logs::StreamPermit,
}

impl Follower {
    /// The next line: from what was read already, else from the store once
    /// this instance appended to the app or [`FOLLOW_POLL`] passed.
    async fn next_event(&mut self) -> Event {
        loop {
            if let Some(entry) = self.pending.pop_front() {
                self.cursor = entry.cursor;
                return line_event(entry);
            }
            match self
                .logs
                .since(&self.app_id, self.cursor, MAX_PAGE_LINES)
                .await
            {
                Ok(entries) if !entries.is_empty() => {
                    self.pending.extend(entries);
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, app_id = %self.app_id, "log stream read failed; retrying")
                }
            }
            self.wait().await;
        }
    }

    /// Until a line of this app is appended here, or [`FOLLOW_POLL`].
    async fn wait(&mut self) {
        let deadline = tokio::time::Instant::now() + FOLLOW_POLL;
        loop {
            let received = tokio::time::timeout_at(deadline, self.appended.recv()).await;
            match received {
                Err(_elapsed) => return,
                Ok(Ok((app_id, cursor))) if app_id == self.app_id && cursor > self.cursor => {
                    return;
                }
                Ok(Ok(_)) => {}
                // Fell behind the broadcast: read the store now.
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => return,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
            }
        }
    }
}

fn line_event(entry: crate::store::logs::LogEntry) -> Event {
    let line = public_line(entry.line);
    Event::default()
        .event("line")
        .id(entry.cursor.to_string())
        .json_data(&line)
        .unwrap_or_else(|_| Event::default().event("line").id(entry.cursor.to_string()))
}

impl From<LogsError> for ApiError {
    fn from(error: LogsError) -> ApiError {
        let message = error.to_string();
        match error {
            LogsError::BatchTooLarge(_) => {
                ApiError::payload_too_large("log_batch_too_large", message)
            }
            LogsError::LineTooLong { .. } => {
                ApiError::payload_too_large("log_line_too_long", message)
            }
            LogsError::Store(cause) => cause.into(),
        }
    }
}

impl From<StreamsFull> for ApiError {
    fn from(error: StreamsFull) -> ApiError {
        ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_log_streams",
                error.to_string(),
            )
        }
    }
}
