//! Restart and rebuild a running preview (`POST .../preview/restart`,
//! `.../rebuild`, operator; 202, progress in the preview's log), and the
//! daemon's held request that learns of them (`GET .../preview/control`,
//! sync token). Stop (`POST .../preview/stop`, operator) is the lifecycle's:
//! the idle reaper's stop asked now, answered with the preview once asleep.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sync_protocol::controls::{Control, ControlKind};
use sync_protocol::{AppId, PreviewState};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Operator, SyncAgent};
use super::openapi::{AppPath, ErrorResponse};
use super::{ApiError, AppState};
use crate::lifecycle::view::PreviewView;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(restart))
        .routes(routes!(rebuild))
        .routes(routes!(stop))
        .routes(routes!(next_control))
}

/// Restarts the running preview's dev server; progress in its log.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/preview/restart",
    tag = "logs",
    operation_id = "restart_preview",
    params(AppPath),
    responses(
        (status = 202, description = "Asked; the daemon carries it out", body = Control),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
        (status = 409, description = "`preview_not_running`: provision or wake it first", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn restart(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Response, ApiError> {
    ask(&state, &app_id, ControlKind::Restart).await
}

/// Removes `node_modules` and the frameworks' caches, installs and starts again; progress in the log.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/preview/rebuild",
    tag = "logs",
    operation_id = "rebuild_preview",
    params(AppPath),
    responses(
        (status = 202, description = "Asked; the daemon carries it out", body = Control),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
        (status = 409, description = "`preview_not_running`: provision or wake it first", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn rebuild(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Response, ApiError> {
    ask(&state, &app_id, ControlKind::Rebuild).await
}

/// 200 with the preview, stopped or suspended (per `--autostop`; `stop`
/// when autostop is off); 409 `preview_not_running` unless it ran.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/preview/stop",
    tag = "previews",
    operation_id = "stop_preview",
    params(AppPath),
    responses(
        (status = 200, description = "Stopped or suspended (per `--autostop`)", body = PreviewView),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
        (status = 409, description = "`preview_not_running`, `preview_state`: it does not run", body = ErrorResponse),
        (status = 502, description = "`platform_error`", body = ErrorResponse),
        (status = 503, description = "`platform_unavailable`, `unavailable`", body = ErrorResponse, headers(("Retry-After" = u64))),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/preview/control",
    tag = "logs",
    operation_id = "next_preview_control",
    params(AppPath, ControlQuery),
    responses(
        (status = 200, description = "The newest control, newer than `after`", body = Control),
        (status = 204, description = "None came within `wait`"),
    ),
    security(("sync_token" = [])),
)]
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
