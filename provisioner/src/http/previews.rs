//! The preview lifecycle routes. Handlers parse the app id, call one
//! `LifecycleService` operation and map the outcome; waiting (for a
//! provisioning or a wake) is bounded here, while the work itself goes on in
//! the background when a caller stops waiting.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sync_protocol::AppId;
use tokio::sync::broadcast::error::RecvError;

use super::auth::Operator;
use super::{ApiError, AppState};
use crate::lifecycle::driver::DriverError;
use crate::lifecycle::model::{EventKind, PreviewRecord, PreviewState};
use crate::lifecycle::view::PreviewView;
use crate::lifecycle::{LifecycleError, LifecycleService, unshare};
use crate::store::StoreError;

/// The longest a provision or wake request waits before answering.
const MAX_WAIT: Duration = Duration::from_secs(60);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/apps/{app_id}/provision-preview", post(provision))
        .route(
            "/v1/apps/{app_id}/preview",
            get(get_preview).delete(delete_preview),
        )
        .route("/v1/apps/{app_id}/preview/events", get(preview_events))
        .route("/v1/apps/{app_id}/wake-preview", post(wake))
        .route("/v1/apps/{app_id}/activity", post(activity))
        .route("/v1/previews", get(list_previews))
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    /// `false` answers at once (202) while the work goes on.
    #[serde(default = "wait_by_default")]
    wait: bool,
    /// Seconds to wait at most; 60 (also the ceiling) when absent.
    timeout: Option<u64>,
}

impl WaitQuery {
    fn limit(&self) -> Duration {
        self.timeout.map_or(MAX_WAIT, |seconds| {
            Duration::from_secs(seconds).min(MAX_WAIT)
        })
    }
}

fn wait_by_default() -> bool {
    true
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    state: Option<String>,
}

#[derive(Debug, Serialize)]
struct PreviewList {
    previews: Vec<PreviewView>,
}

/// 200 with the running preview; 202 while it is still provisioning (the
/// caller asked not to wait, or the wait ran out).
async fn provision(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let lifecycle = &state.lifecycle;
    let in_flight = lifecycle.provision(&app_id).await?;
    if query.wait
        && let Ok(outcome) = tokio::time::timeout(query.limit(), in_flight).await
    {
        let record = outcome.map_err(unshare)?;
        return respond(lifecycle, record).await;
    }
    respond(lifecycle, lifecycle.get(&app_id).await?).await
}

async fn get_preview(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<PreviewView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let record = state.lifecycle.get(&app_id).await?;
    Ok(Json(state.lifecycle.view(record).await?))
}

/// 200 once started and synced; 202 with `?wait=false`; 504 if that takes
/// longer than a minute, or `?timeout=` seconds (the wake goes on).
async fn wake(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<WaitQuery>,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let lifecycle = &state.lifecycle;
    if !query.wait {
        let _in_flight = lifecycle.wake(&app_id).await?;
        return respond(lifecycle, lifecycle.get(&app_id).await?).await;
    }
    let record = lifecycle.wake_and_wait(&app_id, query.limit()).await?;
    respond(lifecycle, record).await
}

async fn activity(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    state.lifecycle.touch(&app_id);
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_preview(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<PreviewView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let record = state.lifecycle.delete(&app_id).await?;
    Ok(Json(state.lifecycle.summary_view(record)))
}

async fn list_previews(
    _operator: Operator,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<PreviewList>, ApiError> {
    let filter = match query.state.as_deref() {
        None | Some("") => None,
        Some(text) => Some(PreviewState::parse(text).ok_or_else(|| {
            let known: Vec<&str> = PreviewState::ALL
                .iter()
                .map(|state| state.as_str())
                .collect();
            ApiError::bad_request(
                "state_invalid",
                format!("unknown state {text:?}; use one of {}", known.join(", ")),
            )
        })?),
    };
    let records = state.lifecycle.list(filter).await?;
    let previews = records
        .into_iter()
        .map(|record| state.lifecycle.summary_view(record))
        .collect();
    Ok(Json(PreviewList { previews }))
}

/// A snapshot first, then every change of this preview (`render` events:
/// each new render verdict, see `render::events`; `import` events: each
/// change of the app's git import, step by step, see `import::events`); a
/// subscriber that falls behind gets a fresh snapshot instead of the
/// changes it missed. An app being imported for the first time has no
/// preview yet: its stream starts with its `import` events.
async fn preview_events(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let lifecycle = Arc::clone(&state.lifecycle);
    let renders = super::render::events(state.clone(), app_id.clone());
    let imports = super::import::events(state.clone(), app_id.clone());
    // Subscribe before reading the snapshot so no change falls in between.
    let receiver = lifecycle.subscribe();
    let snapshot = match lifecycle.get(&app_id).await {
        Ok(record) => Some(lifecycle.view(record).await?),
        Err(LifecycleError::NotFound(_))
            if super::import::is_importing(&state, &app_id).await? =>
        {
            None
        }
        Err(error) => return Err(error.into()),
    };
    let first = futures::stream::iter(snapshot.map(|snapshot| sse_event("snapshot", &snapshot)));
    let shutdown = lifecycle.shutdown_token();
    let changes = futures::stream::unfold(
        (receiver, lifecycle, app_id),
        |(mut receiver, lifecycle, app_id)| async move {
            loop {
                let (kind, record) = match receiver.recv().await {
                    Ok(event) if event.record.app_id == app_id => {
                        (kind_name(event.kind), event.record)
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => match lifecycle.get(&app_id).await {
                        Ok(record) => ("snapshot", record),
                        Err(_) => continue,
                    },
                    Err(RecvError::Closed) => return None,
                };
                let view = match lifecycle.view(record.clone()).await {
                    Ok(view) => view,
                    Err(_) => lifecycle.summary_view(record),
                };
                return Some((sse_event(kind, &view), (receiver, lifecycle, app_id)));
            }
        },
    );
    let changes = futures::stream::select(futures::stream::select(changes, renders), imports)
        .take_until(async move { shutdown.cancelled_owned().await });
    Ok(Sse::new(first.chain(changes)).keep_alive(KeepAlive::default()))
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::State => "state",
        EventKind::Step => "step",
    }
}

fn sse_event(kind: &str, view: &PreviewView) -> Result<Event, Infallible> {
    let event = Event::default().event(kind);
    Ok(event
        .json_data(view)
        .unwrap_or_else(|_| Event::default().event(kind).data("{}")))
}

/// 200 when the preview is where the caller wanted it, 202 while it is still on its way.
async fn respond(
    lifecycle: &LifecycleService,
    record: PreviewRecord,
) -> Result<Response, ApiError> {
    let view = lifecycle.view(record).await?;
    let status = match view.state {
        PreviewState::Provisioning | PreviewState::Waking => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(view)).into_response())
}

impl From<LifecycleError> for ApiError {
    fn from(error: LifecycleError) -> ApiError {
        let mut api_error = classify(&error);
        if api_error.status.is_server_error() {
            api_error.cause = Some(error.into());
        }
        api_error
    }
}

/// Status, code and client message; the cause of a 5xx is attached by the caller.
fn classify(error: &LifecycleError) -> ApiError {
    match error {
        LifecycleError::NotFound(_) => ApiError::not_found("preview_not_found", error.to_string()),
        LifecycleError::WrongState { .. } => ApiError::conflict("preview_state", error.to_string()),
        LifecycleError::NotRunning { .. } => {
            ApiError::conflict("preview_not_running", error.to_string())
        }
        LifecycleError::Timeout(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "preview_timeout",
            error.to_string(),
        ),
        LifecycleError::Driver(DriverError::Transient(_)) => ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "platform_unavailable",
                "the platform is busy or failing; the preview resumes by itself, or retry shortly",
            )
        },
        LifecycleError::Driver(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "platform_error",
            "the platform refused; the preview's `error` field says why",
        ),
        LifecycleError::Shared(inner) => classify(inner),
        // A busy database is a 503 here as on the files path: retry shortly.
        LifecycleError::Store(store) if store.is_busy() => store_busy(),
        LifecycleError::Files(cause)
            if cause
                .downcast_ref::<StoreError>()
                .is_some_and(StoreError::is_busy) =>
        {
            store_busy()
        }
        LifecycleError::Store(_) | LifecycleError::Files(_) | LifecycleError::Internal(_) => {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

fn store_busy() -> ApiError {
    ApiError::unavailable(anyhow::anyhow!("the store is busy"), 1)
}
