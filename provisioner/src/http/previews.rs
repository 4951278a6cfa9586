//! The preview lifecycle routes. Handlers parse the app id, call one
//! `LifecycleService` operation and map the outcome; waiting (for a
//! provisioning or a wake) is bounded here, while the work itself goes on in
//! the background when a caller stops waiting.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sync_protocol::AppId;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Operator;
use super::openapi::{AppPath, ErrorResponse};
use super::{ApiError, AppState};
use crate::lifecycle::driver::DriverError;
use crate::lifecycle::model::{PreviewRecord, PreviewState};
use crate::lifecycle::view::PreviewView;
use crate::lifecycle::{LifecycleError, LifecycleService, unshare};
use crate::store::StoreError;

/// The longest a provision or wake request waits before answering.
const MAX_WAIT: Duration = Duration::from_secs(60);

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(provision))
        .routes(routes!(get_preview, delete_preview))
        .routes(routes!(super::preview_events::preview_events))
        .routes(routes!(wake))
        .routes(routes!(activity))
        .routes(routes!(list_previews))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only previews in this state (`provisioning`, `running`, ...); all when absent or empty.
    state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct PreviewList {
    previews: Vec<PreviewView>,
}

/// 200 with the running preview; 202 while it is still provisioning (the
/// caller asked not to wait, or the wait ran out).
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/provision-preview",
    tag = "previews",
    operation_id = "provision_preview",
    params(AppPath, WaitQuery),
    responses(
        (status = 200, description = "The preview is where it was asked to be (`running`, or `failed` with `error`)", body = PreviewView),
        (status = 202, description = "Still on its way (`?wait=false`, or the wait ran out); follow `/preview/events`", body = PreviewView),
        (status = 409, description = "`preview_state`: the preview is being deleted", body = ErrorResponse),
        (status = 502, description = "`platform_error`: the platform refused", body = ErrorResponse),
        (status = 503, description = "`platform_unavailable`, `unavailable`: retry after `Retry-After`", body = ErrorResponse, headers(("Retry-After" = u64))),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
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

/// The preview with its steps, URL, revisions, dev server and render.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/preview",
    tag = "previews",
    operation_id = "get_preview",
    params(AppPath),
    responses(
        (status = 200, description = "The preview", body = PreviewView),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn get_preview(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<PreviewView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let record = state.lifecycle.get(&app_id).await?;
    Ok(Json(state.lifecycle.view(record).await?))
}

/// 200 once started and synced; 202 with `?wait=false`, or when that takes
/// longer than a minute or `?timeout=` seconds (the wake goes on), like a
/// provision: a wait the caller bounded running out is no server error.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/wake-preview",
    tag = "previews",
    operation_id = "wake_preview",
    params(AppPath, WaitQuery),
    responses(
        (status = 200, description = "The preview is where it was asked to be (`running`, or `failed` with `error`)", body = PreviewView),
        (status = 202, description = "Still on its way (`?wait=false`, or the wait ran out); follow `/preview/events`", body = PreviewView),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
        (status = 409, description = "`preview_state`: the preview cannot be woken from its state", body = ErrorResponse),
        (status = 502, description = "`platform_error`", body = ErrorResponse),
        (status = 503, description = "`platform_unavailable`, `unavailable`: retry after `Retry-After`", body = ErrorResponse, headers(("Retry-After" = u64))),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
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
    match lifecycle.wake_and_wait(&app_id, query.limit()).await {
        Ok(record) => respond(lifecycle, record).await,
        Err(LifecycleError::Timeout(_)) => {
            let view = lifecycle.view(lifecycle.get(&app_id).await?).await?;
            Ok((StatusCode::ACCEPTED, Json(view)).into_response())
        }
        Err(error) => Err(error.into()),
    }
}

/// A heartbeat: someone is looking at the app, keep its preview awake.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/activity",
    tag = "previews",
    operation_id = "preview_activity",
    params(AppPath),
    responses((status = 204, description = "Noted")),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn activity(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    state.lifecycle.touch(&app_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Destroys the preview (its files are kept); its sync tokens stop working.
#[utoipa::path(
    delete,
    path = "/v1/apps/{app_id}/preview",
    tag = "previews",
    operation_id = "delete_preview",
    params(AppPath),
    responses(
        (status = 200, description = "Deleted (state `deleted`)", body = PreviewView),
        (status = 404, description = "`preview_not_found`", body = ErrorResponse),
        (status = 502, description = "`platform_error`", body = ErrorResponse),
        (status = 503, description = "`platform_unavailable`, `unavailable`", body = ErrorResponse, headers(("Retry-After" = u64))),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn delete_preview(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<PreviewView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let record = state.lifecycle.delete(&app_id).await?;
    Ok(Json(state.lifecycle.summary_view(record)))
}

/// Every preview, or those in one state (summaries: no `files_revision`).
#[utoipa::path(
    get,
    path = "/v1/previews",
    tag = "previews",
    operation_id = "list_previews",
    params(ListQuery),
    responses(
        (status = 200, description = "The previews", body = PreviewList),
        (status = 400, description = "`state_invalid`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
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
