//! The API's OpenAPI 3.1 document, generated from the code and served at
//! `GET /v1/openapi.json` (no credentials); `provisioner openapi` prints it
//! and `docs/openapi.json` is the checked-in copy clients generate from.
//!
//! Why `utoipa` with `utoipa-axum`: a route and its description are
//! registered together. Each handler carries `#[utoipa::path(...)]`, and
//! its module's `routes()` returns an `OpenApiRouter` built with
//! `.routes(routes!(handler, ...))`, which adds the handler to the axum
//! router and its operation to the document in one call, so a route cannot
//! be served without being described. (`aide` wraps every handler's types
//! instead and needs `schemars`; utoipa keeps the handlers plain axum.)
//!
//! To add a route: write the handler with `#[utoipa::path(method, path =
//! "/v1/...", tag, params, request_body, responses, security)]` (see the
//! handlers of `files.rs` for the shape: each answer with its body and
//! headers, each error the handler itself returns as `ErrorResponse` with
//! its codes in the description), register it with `routes!` in its
//! module's `routes()`, derive `utoipa::ToSchema` on new body types, add any
//! new error code to [`super::error::ERROR_CODES`], then regenerate the
//! checked-in copy: `cargo run -p provisioner -- openapi > docs/openapi.json`.
//! The errors every route shares (credentials, an unknown app id, a busy
//! store, an oversized body) are added here by [`complete`], described once
//! under `components/responses` and referenced, so handlers list only
//! their own. The tests here fail when the copy is stale, when a
//! route bypasses the registration or an error code is not listed;
//! `tests/it/openapi.rs` when a documented operation is not served.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::{OpenApi, PartialSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod schemas;

pub(super) use schemas::*;

use super::AppState;

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Preview provisioner API",
        description = "Stores each app's files as revisions, serves them to the sync daemon in \
            each preview, and runs one live preview per app (Fly Machines or local). Every error \
            is `{\"error\":{\"code\",\"message\"}}`: `code` is one of `ErrorCode`, `message` says \
            what to change. Server-sent event streams are described as `text/event-stream` \
            answers whose schema lists each event's name and JSON `data`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(ErrorResponse, ErrorDetail, ErrorCode)),
    tags(
        (name = "files", description = "An app's files: writes make revisions; reads by path, manifest or hash"),
        (name = "sync", description = "What a preview's sync daemon calls with its sync token"),
        (name = "previews", description = "One live preview per app: provision, wake, follow, destroy"),
        (name = "logs", description = "A preview's log and its restart/rebuild controls"),
        (name = "settings", description = "Per-app settings and private preview links"),
        (name = "import", description = "A git ref as an app's files"),
        (name = "operations", description = "Health, readiness, metrics, status and this document"),
    ),
)]
struct ApiDoc;

/// The router every module's documented routes are merged into.
pub(super) fn base() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_document))
}

/// The document as the running server serves it.
pub fn document() -> Document {
    let (_router, document) = super::documented_routes().split_for_parts();
    complete(document)
}

/// The document as pretty JSON with a final newline: what
/// `GET /v1/openapi.json` answers and `docs/openapi.json` holds.
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    text.push('\n');
    text
}

static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(document_json);

/// This document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    operation_id = "get_openapi_document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)),
)]
async fn get_document() -> axum::response::Response {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT_JSON.as_str()).into_response()
}

/// The parts no handler states: security schemes, the errors every route
/// shares, and the path of a wildcard route spelt as OpenAPI spells it.
pub(super) fn complete(mut document: Document) -> Document {
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "operator",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The operator API key (`PROVISIONER_API_KEY`, or the one kept in the data dir)",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "operator_api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Api-Key",
            "The operator API key, in a header of its own instead of `Authorization`",
        ))),
    );
    components.add_security_scheme(
        "sync_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("st1.<appId>.<hex>")
                .description(Some(
                    "An app's sync token (`POST /v1/apps/{app_id}/sync-token`); reaches that app only",
                ))
                .build(),
        ),
    );
    for (name, response) in shared_responses() {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
    let paths = std::mem::take(&mut document.paths.paths);
    for (path, mut item) in paths {
        let has_app_id = path.contains("{app_id}");
        for operation in operations(&mut item) {
            drop_repeated_parameters(operation);
            add_shared_errors(operation, has_app_id);
        }
        // axum's `{*path}` catch-all is OpenAPI's plain `{path}`.
        document.paths.paths.insert(path.replace("{*", "{"), item);
    }
    document
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// utoipa's axum support adds a parameter of its own for each `Path`
/// extractor beside the described one; the first (described) one stays.
fn drop_repeated_parameters(operation: &mut Operation) {
    if let Some(parameters) = operation.parameters.as_mut() {
        let mut seen = Vec::new();
        parameters.retain(|parameter| {
            let key = (parameter.name.clone(), parameter.parameter_in.clone());
            let first = !seen.contains(&key);
            seen.push(key);
            first
        });
    }
}

/// The error answers many routes share, described once under
/// `components/responses` and referenced by name.
fn shared_responses() -> [(&'static str, Response); 7] {
    [
        (
            "RequestInvalid",
            error_answer(
                "The request could not be read: `app_id_invalid`, `path_invalid`, \
                 `query_invalid`, `body_invalid`, `request_invalid`",
            ),
        ),
        (
            "Unauthorized",
            error_answer("`unauthorized`: credentials missing or not valid"),
        ),
        (
            "Forbidden",
            error_answer(
                "`forbidden`: these credentials may not do this (a sync token of another app, \
                 or where the operator key is needed)",
            ),
        ),
        (
            "RouteNotFound",
            error_answer("`route_not_found`: a path parameter does not fit the route"),
        ),
        (
            "BodyTooLarge",
            error_answer(
                "`body_too_large`, `file_too_large`: the body is larger than the server accepts",
            ),
        ),
        (
            "Internal",
            error_answer("`internal`: an unexpected failure (logged)"),
        ),
        (
            "Unavailable",
            retry_later(
                "`unavailable`: the store or another dependency is busy; retry after \
                 `Retry-After`",
            ),
        ),
    ]
}

/// Adds, where the handler did not list its own, references to the
/// answers every route of its kind can give.
fn add_shared_errors(operation: &mut Operation, has_app_id: bool) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let takes_input = has_app_id
        || operation.request_body.is_some()
        || operation
            .parameters
            .as_ref()
            .is_some_and(|parameters| !parameters.is_empty());
    let shared = [
        ("400", "RequestInvalid", takes_input),
        ("401", "Unauthorized", secured),
        ("403", "Forbidden", secured),
        ("404", "RouteNotFound", has_app_id),
        ("413", "BodyTooLarge", operation.request_body.is_some()),
        ("500", "Internal", true),
        ("503", "Unavailable", true),
    ];
    let responses = &mut operation.responses.responses;
    for (status, name, applies) in shared {
        if applies && !responses.contains_key(status) {
            responses.insert(
                status.to_owned(),
                RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))),
            );
        }
    }
}

/// An error answer: `ErrorResponse` as JSON.
pub fn error_answer(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorResponse")))
                .build(),
        )
        .build()
}

/// An error answer with `Retry-After`.
fn retry_later(description: &str) -> Response {
    let mut response = error_answer(description);
    response.headers.insert(
        "Retry-After".to_owned(),
        HeaderBuilder::new()
            .schema(u64::schema())
            .description(Some("Seconds to wait before retrying"))
            .build(),
    );
    response
}

#[cfg(test)]
mod tests;
