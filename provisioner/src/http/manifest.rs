//! `GET /v1/apps/{app_id}/files`: the manifest, or with `since` the
//! changes after a revision, long-polled with `wait`; conditional with
//! `If-None-Match`. Every answer names the store that gave it.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONNECTION, ETAG, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sync_protocol::{AppId, ManifestResponse, REVISION_HEADER, STORE_ID_HEADER};
use utoipa::IntoParams;

use super::auth::FilesReader;
use super::files::{if_none_match, not_modified};
use super::openapi::{AppPath, ErrorResponse, IfNoneMatch};
use super::{ApiError, AppState};
use crate::files::Answer;
use crate::store::{Changes, Manifest};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ManifestQuery {
    /// The revision the caller holds: the answer is the changes after it
    /// (a full manifest when it is no longer kept, or from another store).
    since: Option<u64>,
    /// With `since`: seconds to hold the request until a revision after
    /// `since` exists (at most 60); a 304 when none came.
    #[param(maximum = 60)]
    wait: Option<u64>,
    /// With `since`: carry the content of the delta's small files in
    /// `contents` (each at most 16 KiB, 64 KiB in all), so no blob request
    /// is needed for them.
    inline: Option<bool>,
}

/// The manifest, or with `since` the changes after it (`wait` long-polls).
#[utoipa::path(
    get,
    path = "/v1/apps/{app_id}/files",
    tag = "files",
    operation_id = "get_manifest",
    params(AppPath, ManifestQuery, IfNoneMatch),
    responses(
        (status = 200, description = "The manifest (`full: true`) or the changes after `since`", body = ManifestResponse, headers(
            ("ETag" = String, description = "`\"<store>-r<revision>\"`, or `\"<store>-r<revision>-since<N>\"` for a delta (`-inline` appended with `inline=true`)"),
            ("X-Revision" = u64, description = "The app's files revision"),
            ("X-Store-Id" = String, description = "The store that answered; revisions count within one store"),
        )),
        (status = 304, description = "Nothing after `since` within `wait`, or `If-None-Match` named the current ETag", headers(
            ("ETag" = String),
            ("X-Revision" = u64),
            ("X-Store-Id" = String),
            ("Retry-After" = u64, description = "`1` when the instance is shutting down: ask again at once"),
        )),
        (status = 400, description = "`app_id_invalid`, `query_invalid` (`wait` without `since`), `wait_invalid`", body = ErrorResponse),
    ),
    security(("operator" = []), ("operator_api_key" = []), ("sync_token" = [])),
)]
/// ETags: `"<store>-r<revision>"` for the whole manifest,
/// `"<store>-r<revision>-since<N>"` for a delta; a 304 repeats the ETag the
/// client would have been sent. Every answer names the store (`x-store-id`),
/// so a client holding another store's revisions knows to start over.
pub(super) async fn get_manifest(
    _reader: FilesReader,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    query: Result<Query<ManifestQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let app_id = AppId::parse(&app_id)?;
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("query_invalid", rejection.body_text()))?;
    let store_id = state.files.store_id();
    let Some(since) = query.since else {
        if query.wait.is_some() {
            return Err(ApiError::bad_request(
                "query_invalid",
                "wait needs since: pass the revision you hold as ?since=N&wait=S",
            ));
        }
        let manifest = state.files.manifest(&app_id).await?;
        let body = full_manifest(store_id, manifest);
        return Ok(manifest_response(&headers, body, None));
    };
    match state
        .files
        .changes_since(&app_id, since, query.wait.unwrap_or(0))
        .await?
    {
        None => {
            let unchanged = with_store_id(
                not_modified(&format!("\"{store_id}-r{since}\""), Some(since)),
                store_id,
            );
            Ok(handed_back_at_shutdown(unchanged, &state))
        }
        Some(Answer {
            changes: Changes::Full(manifest),
            ..
        }) => Ok(manifest_response(
            &headers,
            full_manifest(store_id, manifest),
            None,
        )),
        Some(Answer {
            changes:
                Changes::Delta {
                    revision,
                    files,
                    deleted,
                },
            written,
        }) => {
            let inline = query.inline == Some(true);
            let contents = if inline {
                state
                    .files
                    .inline_contents(&app_id, &files, written.as_deref())
                    .await?
            } else {
                Vec::new()
            };
            let body = ManifestResponse {
                store_id: store_id.to_owned(),
                revision,
                full: false,
                files,
                deleted,
                contents,
            };
            // Its own ETag: the body differs from the same delta without contents.
            let since = (since, if inline { "-inline" } else { "" });
            Ok(manifest_response(&headers, body, Some(since)))
        }
    }
}

fn full_manifest(store_id: &str, manifest: Manifest) -> ManifestResponse {
    ManifestResponse {
        store_id: store_id.to_owned(),
        revision: manifest.revision,
        full: true,
        files: manifest.files,
        deleted: Vec::new(),
        contents: Vec::new(),
    }
}

fn manifest_response(
    headers: &HeaderMap,
    body: ManifestResponse,
    since: Option<(u64, &str)>,
) -> Response {
    let etag = match since {
        Some((since, variant)) => format!(
            "\"{}-r{}-since{since}{variant}\"",
            body.store_id, body.revision
        ),
        None => format!("\"{}-r{}\"", body.store_id, body.revision),
    };
    if if_none_match(headers, &etag) {
        return with_store_id(not_modified(&etag, Some(body.revision)), &body.store_id);
    }
    let revision = body.revision.to_string();
    let store_id = body.store_id.clone();
    (
        [
            (HeaderName::from_static(STORE_ID_HEADER), store_id),
            (ETAG, etag),
            (
                REVISION_HEADER.parse().expect("static header name"),
                revision,
            ),
        ],
        Json(body),
    )
        .into_response()
}

/// A long-poll this instance ends because it is shutting down: still a
/// truthful 304, plus `Retry-After: 1` and `Connection: close`, so the client
/// asks again at once on a new connection (another instance, behind a
/// load balancer) instead of treating it as a failure.
fn handed_back_at_shutdown(mut response: Response, state: &AppState) -> Response {
    if state.files.notifier().is_shutting_down() {
        let headers = response.headers_mut();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn with_store_id(mut response: Response, store_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(store_id) {
        response.headers_mut().insert(STORE_ID_HEADER, value);
    }
    response
}
