//! `GET /v1/apps/{app_id}/preview/events`: the preview's server-sent
//! events, a snapshot first and then each change (`state`, `step`,
//! `render`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use sync_protocol::AppId;
use tokio::sync::broadcast::error::RecvError;

use super::auth::Operator;
use super::openapi::{AppPath, ErrorResponse, PreviewEvent};
use super::{ApiError, AppState};
use crate::lifecycle::LifecycleError;
use crate::lifecycle::model::EventKind;
use crate::lifecycle::view::PreviewView;

/// A snapshot first, then every change of this preview (`render` events:
/// each new render verdict, see `render::events`; `import` events: each
/// change of the app's git import, step by step, see `import::events`); a
/// subscriber that falls behind gets a fresh snapshot instead of the
/// changes it missed. An app being imported for the first time has no
/// preview yet: its stream starts with its `import` events.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/preview/events",
    tag = "previews",
    operation_id = "follow_preview_events",
    params(AppPath),
    responses(
        (status = 200, description = "Server-sent events until the client leaves or the server stops: `snapshot` (first, and again after falling behind), `state`, `step` (data: `Preview`), `render` (data: `RenderReport`), `import` (data: `ImportReport`, each change of the app's git import)", content_type = "text/event-stream", body = PreviewEvent),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
pub(super) async fn preview_events(
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
