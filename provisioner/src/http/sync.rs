//! What a sync daemon calls besides the manifest: blobs by hash (one, or
//! several back to back), and its status report; and the operator's minting
//! of the sync tokens those calls carry.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use sync_protocol::{AppId, BlobBatchRequest, SyncStatusReport, SyncToken, SyncTokenResponse};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{FilesReader, Operator, SyncAgent};
use super::files::{BodyKind, body_rejection, if_none_match, not_modified};
use super::openapi::{AppPath, Binary, ErrorResponse, IfNoneMatch};
use super::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_blob_batch))
        .routes(routes!(get_blob))
        .routes(routes!(post_sync_token))
        .routes(routes!(post_sync_status))
}

/// `{sha256}` of a blob.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // A parameter description only.
struct BlobPath {
    /// Lower-case hex sha256 of the blob's content.
    #[param(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
}

/// One blob's bytes by hash: immutable, cacheable for a year.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/blobs/{sha256}",
    tag = "sync",
    operation_id = "get_blob",
    params(AppPath, BlobPath, IfNoneMatch),
    responses(
        (status = 200, description = "The blob's bytes", content_type = "application/octet-stream", body = Binary, headers(
            ("ETag" = String, description = "`\"<sha256>\"`"),
            ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"),
        )),
        (status = 304, description = "`If-None-Match` named this blob", headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 400, description = "`app_id_invalid`, `sha256_invalid`", body = ErrorResponse),
        (status = 404, description = "`blob_not_found`: no file of the app has this content", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = []), ("sync_token" = [])),
)]
async fn get_blob(
    _reader: FilesReader,
    State(state): State<AppState>,
    Path((app_id, sha256)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let bytes = state.files.read_blob(&app_id, &sha256).await?;
    let etag = format!("\"{sha256}\"");
    let mut response = if if_none_match(&headers, &etag) {
        not_modified(&etag, None)
    } else {
        (
            [
                (CONTENT_TYPE, "application/octet-stream"),
                (ETAG, etag.as_str()),
            ],
            bytes,
        )
            .into_response()
    };
    // Content addressed: the bytes behind a hash never change.
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

/// Several blobs' bytes back to back, in the order asked; sizes come from the manifest.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/blobs",
    tag = "sync",
    operation_id = "post_blob_batch",
    params(AppPath),
    request_body = BlobBatchRequest,
    responses(
        (status = 200, description = "The blobs' bytes concatenated in the order asked; the manifest gives each size", content_type = "application/octet-stream", body = Binary, headers(("Content-Length" = u64))),
        (status = 400, description = "`sha256_invalid`, `too_many_blobs` (at most 1000), `body_invalid`", body = ErrorResponse),
        (status = 404, description = "`blob_not_found`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = []), ("sync_token" = [])),
)]
async fn post_blob_batch(
    _reader: FilesReader,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<BlobBatchRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let Json(request) = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::Json)
    })?;
    let batch = state.files.blob_batch(&app_id, request.sha256).await?;
    // A failure mid-stream (the store went away) ends the body early; the
    // client sees a short body and verifies every blob's sha256 anyway.
    let stream = batch
        .stream
        .map(|chunk| chunk.map_err(std::io::Error::other));
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (CONTENT_LENGTH, batch.total_bytes.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Mints a token; only its digest is kept, and earlier tokens stay valid.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct MintQuery {
    /// Revoke every earlier token of the app first: a leaked token stops
    /// working, and so does a running preview's until it is provisioned again.
    #[serde(default)]
    rotate: bool,
}

/// Mints a sync token for the app's daemon; earlier tokens stay valid
/// unless `rotate=true`.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/sync-token",
    tag = "sync",
    operation_id = "mint_sync_token",
    params(AppPath, MintQuery),
    responses((status = 201, description = "The token; only its digest is kept, so it is shown once", body = SyncTokenResponse)),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn post_sync_token(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(query): Query<MintQuery>,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    if query.rotate {
        let revoked = state.sync_tokens.revoke_sync_tokens(&app_id).await?;
        tracing::info!(%app_id, revoked, "sync tokens revoked for rotation");
    }
    let token = SyncToken::new(app_id.clone(), rand::random());
    state
        .sync_tokens
        .add_sync_token(&app_id, &token.digest())
        .await?;
    tracing::info!(%app_id, "sync token minted");
    let body = SyncTokenResponse {
        token: token.expose(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The daemon reports what it applied, its dev server and render verdict.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/sync-status",
    tag = "sync",
    operation_id = "report_sync_status",
    params(AppPath),
    request_body = SyncStatusReport,
    responses((status = 204, description = "Kept")),
    security(("sync_token" = [])),
)]
async fn post_sync_status(
    agent: SyncAgent,
    State(state): State<AppState>,
    body: Result<Json<SyncStatusReport>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(report) = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::Json)
    })?;
    state
        .sync_tokens
        .record_sync_status(&agent.app_id, &report)
        .await?;
    if let Some(seconds) = report.visited_secs_ago {
        // Someone looked at the preview through its gateway: activity.
        state
            .lifecycle
            .touch_visit(&agent.app_id, std::time::Duration::from_secs(seconds));
    }
    if report.render.is_some() {
        state.renders.notify();
    }
    Ok(StatusCode::NO_CONTENT)
}
