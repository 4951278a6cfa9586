//! Restart and rebuild a running preview (`POST .../preview/restart`,
//! `.../rebuild`, operator; 202, progress in the preview's log), and the
//! daemon's held request that learns of them (`GET .../preview/control`,
//! sync token). Stop (`POST .../preview/stop`, operator) is the lifecycle's:
//! the idle reaper's stop asked now, answered with the preview once asleep.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sync_protocol::controls::ControlKind;
use sync_protocol::{AppId, PreviewState};

use super::auth::{Operator, SyncAgent};
use super::{ApiError, AppState};
use crate::lifecycle::view::PreviewView;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/apps/{app_id}/preview/restart", post(restart))
        .route("/v1/apps/{app_id}/preview/rebuild", post(rebuild))
        .route("/v1/apps/{app_id}/preview/stop", post(stop))
        .route("/v1/apps/{app_id}/preview/control", get(next_control))
}

async fn restart(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Response, ApiError> {
    ask(&state, &app_id, ControlKind::Restart).await
}

async fn rebuild(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Response, ApiError> {
    ask(&state, &app_id, ControlKind::Rebuild).await
}

/// 200 with the preview, stopped or suspended (per `--autostop`; `stop`
/// when autostop is off); 409 `preview_not_running` unless it ran.
async fn stop(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<PreviewView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let record = state.lifecycle.stop(&app_id).await?;
    Ok(Json(state.lifecycle.view(record).await?))
}

/// 202 with the control once kept; 409 unless the preview runs.
async fn ask(state: &AppState, app_id: &str, kind: ControlKind) -> Result<Response, ApiError> {
    let app_id = AppId::parse(app_id)?;
    let record = state.lifecycle.get(&app_id).await?;
    if record.state != PreviewState::Running {
        let state_name = serde_json::to_value(record.state)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(ApiError::conflict(
            "preview_not_running",
            format!(
                "the preview of {app_id} is {state_name}, not running; provision or wake it first, then {} it",
                kind.as_str()
            ),
        ));
    }
    let control = state.controls.request(&app_id, kind).await?;
    tracing::info!(%app_id, kind = kind.as_str(), seq = control.seq, "preview control asked");
    Ok((StatusCode::ACCEPTED, Json(control)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlQuery {
    /// The number of the last control the daemon saw; 0 for none.
    #[serde(default)]
    after: u64,
    /// Seconds to hold the request; 0 answers at once.
    #[serde(default)]
    wait: u64,
}

/// 200 with the newest control once it is newer than `after`, else 204.
async fn next_control(
    agent: SyncAgent,
    State(state): State<AppState>,
    Query(query): Query<ControlQuery>,
) -> Result<Response, ApiError> {
    let shutdown = state.lifecycle.shutdown_token();
    let wait = Duration::from_secs(query.wait);
    let answer = tokio::select! {
        answer = state.controls.after(&agent.app_id, query.after, wait) => answer?,
        () = shutdown.cancelled() => None,
    };
    Ok(match answer {
        Some(control) => Json(control).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
