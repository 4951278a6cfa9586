//! Per-app settings and private preview links:
//!
//! - `GET /v1/apps/{appId}/settings`, `PATCH` (a JSON merge patch): operator;
//!   `env` values are write-only. A change of commands, port or environment
//!   restarts a running preview's dev server, which reads them again.
//! - `GET /v1/apps/{appId}/sync-settings`: the app's daemon, with its sync
//!   token; every value, and the app's access key when private.
//! - `POST /v1/apps/{appId}/preview-links {"ttl_seconds"}`: a signed link;
//!   `DELETE` revokes every link and cookie made so far.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use sync_protocol::AppId;
use sync_protocol::settings::DaemonSettings;

use super::auth::{Operator, SyncAgent};
use super::files::{BodyKind, body_rejection};
use super::{ApiError, AppState};
use crate::settings::{PreviewLink, SettingsError, SettingsFailure, SettingsView};

/// A link lives this long unless asked otherwise: an editor session.
const DEFAULT_LINK_TTL: u64 = 12 * 3600;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/apps/{app_id}/settings",
            get(get_settings).patch(patch_settings),
        )
        .route("/v1/apps/{app_id}/sync-settings", get(get_sync_settings))
        .route(
            "/v1/apps/{app_id}/preview-links",
            post(post_link).delete(revoke_links),
        )
}

async fn get_settings(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    Ok(Json(state.settings.view(&app_id).await?))
}

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

async fn get_sync_settings(
    agent: SyncAgent,
    State(state): State<AppState>,
) -> Result<Json<DaemonSettings>, ApiError> {
    Ok(Json(state.settings.for_daemon(&agent.app_id).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    ttl_seconds: Option<u64>,
}

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
