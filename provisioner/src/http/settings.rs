//! Per-app settings and private preview links:
//!
//! - `GET /v1/apps/{appId}/settings`, `PATCH` (a JSON merge patch): operator;
//!   `env` values are write-only. A change of commands, port or environment
//!   restarts a running preview's dev server, which reads them again.
//! - `GET /v1/apps/{appId}/sync-settings`: the app's daemon, with its sync
//!   token; every value, and the app's access key when private.
//! - `POST /v1/apps/{appId}/preview-links {"ttl_seconds"}`: a signed link;
//!   `DELETE` revokes every link and cookie made so far.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use sync_protocol::AppId;
use sync_protocol::access::Visibility;
use sync_protocol::settings::DaemonSettings;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Operator, SyncAgent};
use super::files::{BodyKind, body_rejection};
use super::openapi::{AppPath, ErrorResponse};
use super::{ApiError, AppState};
use crate::settings::{PreviewLink, SettingsError, SettingsFailure, SettingsView};

/// A link lives this long unless asked otherwise: an editor session.
const DEFAULT_LINK_TTL: u64 = 12 * 3600;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, patch_settings))
        .routes(routes!(get_sync_settings))
        .routes(routes!(post_link, revoke_links))
}

/// A JSON merge patch of the settings: a field left out stays, `null`
/// goes back to the detected value (or the operator's default); in `env`,
/// a variable set to `null` is removed.
#[derive(ToSchema)]
#[allow(dead_code)] // A schema only: the handler reads a JSON object.
struct SettingsPatch {
    /// Replaces the detected install command (at most 4096 bytes).
    install_command: Option<String>,
    /// Replaces the detected dev command (at most 4096 bytes).
    dev_command: Option<String>,
    /// The port the app's dev server listens on, when it insists on one.
    port: Option<u16>,
    /// Extra environment (at most 100 variables); values are write-only.
    env: Option<std::collections::BTreeMap<String, Option<String>>>,
    visibility: Option<Visibility>,
}

const SETTINGS_ERRORS: &str =
    "`unknown_setting`, `setting_invalid`, `setting_too_large`, `body_invalid`";

/// The app's settings; `env` shows names only.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/settings",
    tag = "settings",
    operation_id = "get_settings",
    params(AppPath),
    responses((status = 200, description = "The settings", body = SettingsView)),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn get_settings(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    Ok(Json(state.settings.view(&app_id).await?))
}

/// Changes settings; a change of commands, port or env restarts a running
/// preview's dev server.
#[utoipa::path(
    patch,
    path = "/v1/apps/{app_id}/settings",
    tag = "settings",
    operation_id = "patch_settings",
    params(AppPath),
    request_body = SettingsPatch,
    responses(
        (status = 200, description = "The settings after the patch", body = SettingsView),
        (status = 400, description = SETTINGS_ERRORS, body = ErrorResponse),
        (status = 409, description = "`settings_contended`: changed under this patch; send it again", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn patch_settings(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Json<SettingsView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let Json(body) = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::Json)
    })?;
    let Value::Object(patch) = body else {
        return Err(ApiError::bad_request(
            "body_invalid",
            "the body must be a JSON object of the settings to change",
        ));
    };
    let view = state.settings.patch(&app_id, &patch).await?;
    tracing::info!(%app_id, fields = ?patch.keys().collect::<Vec<_>>(), "settings changed");
    restart_for(&state, &app_id, &patch).await?;
    Ok(Json(view))
}

/// A running preview's dev server restarts to take new commands, port or
/// environment (it reads its settings again before it starts); visibility
/// applies at once without one.
async fn restart_for(
    state: &AppState,
    app_id: &AppId,
    patch: &serde_json::Map<String, Value>,
) -> Result<(), ApiError> {
    let runtime_changed = ["install_command", "dev_command", "port", "env"]
        .iter()
        .any(|field| patch.contains_key(*field));
    let running = matches!(
        state.lifecycle.get(app_id).await,
        Ok(record) if record.state == crate::lifecycle::PreviewState::Running
    );
    if runtime_changed && running {
        let control = state
            .controls
            .request(app_id, sync_protocol::controls::ControlKind::Restart)
            .await?;
        tracing::info!(%app_id, seq = control.seq, "dev server restart asked for new settings");
    }
    Ok(())
}

/// Every setting of the app, `env` values and access key included, for its daemon.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/sync-settings",
    tag = "sync",
    operation_id = "get_sync_settings",
    params(AppPath),
    responses((status = 200, description = "The daemon's settings", body = DaemonSettings)),
    security(("sync_token" = [])),
)]
async fn get_sync_settings(
    agent: SyncAgent,
    State(state): State<AppState>,
) -> Result<Json<DaemonSettings>, ApiError> {
    Ok(Json(state.settings.for_daemon(&agent.app_id).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    /// How long the link lives: 60 s to 30 days; 12 h when absent.
    #[schema(minimum = 60, maximum = 2592000)]
    ttl_seconds: Option<u64>,
}

/// A signed link into the (private) preview; the body may be empty.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/preview-links",
    tag = "settings",
    operation_id = "create_preview_link",
    params(AppPath),
    request_body(content = Option<LinkRequest>, description = "Optional: without a body (and Content-Type) the link lives 12 h"),
    responses(
        (status = 201, description = "The link; `token` is also a bearer token for the preview", body = PreviewLink),
        (status = 400, description = "`ttl_out_of_range`, `body_invalid`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn post_link(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<LinkRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PreviewLink>), ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let request = match body {
        Ok(Json(request)) => request,
        // An empty body asks for the default life.
        Err(JsonRejection::MissingJsonContentType(_)) => LinkRequest::default(),
        Err(rejection) => {
            return Err(body_rejection(
                rejection.status(),
                rejection.body_text(),
                BodyKind::Json,
            ));
        }
    };
    let url = state.lifecycle.preview_url(&app_id).await?;
    let link = state
        .settings
        .mint_link(
            &app_id,
            &url,
            request.ttl_seconds.unwrap_or(DEFAULT_LINK_TTL),
            time::OffsetDateTime::now_utc(),
        )
        .await?;
    tracing::info!(%app_id, expires_at = %link.expires_at, "preview link made");
    Ok((StatusCode::CREATED, Json(link)))
}

/// Revokes every link and cookie made so far for the app's preview.
#[utoipa::path(
    delete,
    path = "/v1/apps/{app_id}/preview-links",
    tag = "settings",
    operation_id = "revoke_preview_links",
    params(AppPath),
    responses((status = 204, description = "Revoked")),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn revoke_links(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    state.settings.rotate_access(&app_id).await?;
    tracing::info!(%app_id, "preview links revoked");
    Ok(StatusCode::NO_CONTENT)
}

impl From<SettingsFailure> for ApiError {
    fn from(failure: SettingsFailure) -> ApiError {
        match failure {
            SettingsFailure::Refused(error @ SettingsError::UnknownField(_)) => {
                ApiError::bad_request("unknown_setting", error.to_string())
            }
            SettingsFailure::Refused(error @ SettingsError::Invalid { .. }) => {
                ApiError::bad_request("setting_invalid", error.to_string())
            }
            SettingsFailure::Refused(error @ SettingsError::TooLarge { .. }) => {
                ApiError::bad_request("setting_too_large", error.to_string())
            }
            failure @ SettingsFailure::TtlOutOfRange => {
                ApiError::bad_request("ttl_out_of_range", failure.to_string())
            }
            failure @ SettingsFailure::Contended => {
                ApiError::conflict("settings_contended", failure.to_string())
            }
            SettingsFailure::Store(error) => error.into(),
        }
    }
}
