//! `/v1/apps/{app_id}/files...`: writes, reads by path, and the answers and
//! refusals the files routes share (the manifest is in `manifest`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sync_protocol::{AppId, BatchRequest, FilePath, REVISION_HEADER, WriteResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{FilesReader, Operator};
use super::openapi::{AppPath, Binary, ErrorResponse, FilePathParam, IfNoneMatch, WriteAnswer};
use super::render::{self, RenderWaitQuery};
use super::{ApiError, AppState};
use crate::files::FilesError;
use crate::store::{StoreError, WriteOutcome};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(super::manifest::get_manifest, post_batch))
        .routes(routes!(put_file, delete_file, get_file))
}

/// Saves one file (the body is its bytes): one new revision, or the same
/// revision when the content was already saved.
#[utoipa::path(
    put,
    path = "/v1/apps/{app_id}/files/{*path}",
    tag = "files",
    operation_id = "put_file",
    params(AppPath, FilePathParam, RenderWaitQuery),
    request_body(content = Binary, content_type = "application/octet-stream", description = "The file's bytes"),
    responses(
        (status = 200, description = "Saved; with `?wait=rendered` the answer also has `render`", body = WriteAnswer, headers(("X-Revision" = u64, description = "The revision that holds the write"))),
        (status = 400, description = "`app_id_invalid`, `path_invalid`, `wait_invalid`, `timeout_too_long`", body = ErrorResponse),
        (status = 409, description = "`file_directory_conflict`: the path is a directory of the app, or under a file", body = ErrorResponse),
        (status = 413, description = "`file_too_large`, `app_file_limit`, `app_size_limit`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn put_file(
    _operator: Operator,
    State(state): State<AppState>,
    Path((app_id, path)): Path<(String, String)>,
    Query(wait): Query<RenderWaitQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (app_id, path) = (AppId::parse(&app_id)?, FilePath::parse(&path)?);
    let wait = wait.limit()?;
    let body = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::File)
    })?;
    // A save is editor activity: it keeps the app's preview awake.
    state.lifecycle.touch(&app_id);
    let outcome = state.files.put(&app_id, path, body).await?;
    render::written_then_rendered(&state, &app_id, outcome, wait).await
}

/// Removes one file: one new revision.
#[utoipa::path(
    delete,
    path = "/v1/apps/{app_id}/files/{*path}",
    tag = "files",
    operation_id = "delete_file",
    params(AppPath, FilePathParam),
    responses(
        (status = 200, description = "Removed", body = WriteResponse, headers(("X-Revision" = u64, description = "The revision that holds the write"))),
        (status = 404, description = "`file_not_found`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn delete_file(
    _operator: Operator,
    State(state): State<AppState>,
    Path((app_id, path)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (app_id, path) = (AppId::parse(&app_id)?, FilePath::parse(&path)?);
    state.lifecycle.touch(&app_id);
    Ok(written(state.files.delete(&app_id, path).await?))
}

/// Several changes in one revision, all or none.
#[utoipa::path(
    post,
    path = "/v1/apps/{app_id}/files",
    tag = "files",
    operation_id = "post_files_batch",
    params(AppPath, RenderWaitQuery),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Saved; with `?wait=rendered` the answer also has `render`", body = WriteAnswer, headers(("X-Revision" = u64, description = "The revision that holds the batch"))),
        (status = 400, description = "`batch_invalid`, `path_invalid`, `body_invalid`, `wait_invalid`, `timeout_too_long`", body = ErrorResponse),
        (status = 404, description = "`file_not_found`: a delete of a file the app does not have", body = ErrorResponse),
        (status = 409, description = "`file_directory_conflict`", body = ErrorResponse),
        (status = 413, description = "`body_too_large`, `file_too_large`, `app_file_limit`, `app_size_limit`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = [])),
)]
async fn post_batch(
    _operator: Operator,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    Query(wait): Query<RenderWaitQuery>,
    body: Result<Json<BatchRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let wait = wait.limit()?;
    let Json(request) = body.map_err(|rejection| {
        body_rejection(rejection.status(), rejection.body_text(), BodyKind::Json)
    })?;
    state.lifecycle.touch(&app_id);
    let outcome = state.files.batch(&app_id, request.changes).await?;
    render::written_then_rendered(&state, &app_id, outcome, wait).await
}

/// One file's bytes by path.
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/files/{*path}",
    tag = "files",
    operation_id = "get_file",
    params(AppPath, FilePathParam, IfNoneMatch),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Binary, headers(("ETag" = String, description = "`\"<sha256>\"`"))),
        (status = 304, description = "`If-None-Match` named the current ETag", headers(("ETag" = String))),
        (status = 404, description = "`file_not_found`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = []), ("sync_token" = [])),
)]
async fn get_file(
    _reader: FilesReader,
    State(state): State<AppState>,
    Path((app_id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (app_id, path) = (AppId::parse(&app_id)?, FilePath::parse(&path)?);
    let blob = state.files.read_file(&app_id, &path).await?;
    let etag = format!("\"{}\"", blob.sha256);
    if if_none_match(&headers, &etag) {
        return Ok(not_modified(&etag, None));
    }
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream"),
            (ETAG, etag.as_str()),
        ],
        blob.bytes,
    )
        .into_response())
}

pub(super) fn written(outcome: WriteOutcome) -> Response {
    let body = WriteResponse {
        revision: outcome.revision,
        changed: outcome.changed,
    };
    (
        [(REVISION_HEADER, outcome.revision.to_string())],
        Json(body),
    )
        .into_response()
}

pub(super) fn not_modified(etag: &str, revision: Option<u64>) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(ETAG, value);
    }
    if let Some(revision) = revision {
        response
            .headers_mut()
            .insert(REVISION_HEADER, HeaderValue::from(revision));
    }
    response
}

/// Whether `If-None-Match` lists `etag` (or `*`); weak comparison is not needed: our ETags are strong.
pub(super) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|candidate| candidate == etag || candidate == "*")
        })
}

/// Which body a route takes, to name a too-large one.
pub(super) enum BodyKind {
    File,
    Json,
}

pub(super) fn body_rejection(status: StatusCode, text: String, kind: BodyKind) -> ApiError {
    match (status, kind) {
        (StatusCode::PAYLOAD_TOO_LARGE, BodyKind::File) => ApiError::payload_too_large(
            "file_too_large",
            "the file is larger than the server accepts (--max-file-bytes); shrink or split it",
        ),
        (StatusCode::PAYLOAD_TOO_LARGE, BodyKind::Json) => ApiError::payload_too_large(
            "body_too_large",
            "the request body is larger than the server accepts (4/3 of --max-file-bytes plus \
             1 MiB); split the batch into smaller ones",
        ),
        _ => ApiError::bad_request("body_invalid", text),
    }
}

impl From<FilesError> for ApiError {
    fn from(error: FilesError) -> ApiError {
        let message = error.to_string();
        match error {
            FilesError::PathInvalid { .. } => ApiError::bad_request("path_invalid", message),
            FilesError::FileTooLarge { .. } => {
                ApiError::payload_too_large("file_too_large", message)
            }
            FilesError::AppFileLimit { .. } => {
                ApiError::payload_too_large("app_file_limit", message)
            }
            FilesError::AppSizeLimit { .. } => {
                ApiError::payload_too_large("app_size_limit", message)
            }
            FilesError::FileDirectoryConflict { .. } => {
                ApiError::conflict("file_directory_conflict", message)
            }
            FilesError::FileNotFound { .. } => ApiError::not_found("file_not_found", message),
            FilesError::BatchInvalid(_) => ApiError::bad_request("batch_invalid", message),
            FilesError::BlobNotFound { .. } => ApiError::not_found("blob_not_found", message),
            FilesError::Sha256Invalid(_) => ApiError::bad_request("sha256_invalid", message),
            FilesError::TooManyBlobs(_) => ApiError::bad_request("too_many_blobs", message),
            FilesError::WaitTooLong(_) => ApiError::bad_request("wait_invalid", message),
            FilesError::Busy(cause) => ApiError::unavailable(cause, 1),
            FilesError::Store(cause) => ApiError::internal(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        FilesError::from(error).into()
    }
}
