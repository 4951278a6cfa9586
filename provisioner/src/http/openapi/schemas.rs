//! Schemas and parameters the document needs beyond the wire types: the
//! error answer with its code list, the path and header parameters routes
//! share, and the shapes of answers a handler builds by hand (a write with
//! or without its render, the event streams).

use serde::Serialize;
use sync_protocol::logs::LogLine;
use sync_protocol::render::{RenderReport, RenderWait};
use sync_protocol::{AppId, FilePath};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::http::error::ERROR_CODES;
use crate::lifecycle::view::PreviewView;

/// Every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(ToSchema)]
#[allow(dead_code)] // A schema only: `sync_protocol::ErrorResponse` is what is sent.
pub struct ErrorResponse {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    code: ErrorCode,
    /// Says what to change.
    message: String,
}

/// Stable, machine-readable: what went wrong. Each answer's description
/// names the codes it can carry.
pub struct ErrorCode;

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        let described: Vec<String> = ERROR_CODES
            .iter()
            .map(|(code, meaning)| format!("- `{code}`: {meaning}"))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ERROR_CODES.iter().map(|(code, _)| *code)))
            .description(Some(format!(
                "Stable, machine-readable: what went wrong.\n\n{}",
                described.join("\n")
            )))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// `{app_id}` of a route.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // A parameter description only: handlers take `Path<String>`.
pub struct AppPath {
    /// The app.
    app_id: AppId,
}

/// `{path}` of a route: the rest of the URL, `/` included.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct FilePathParam {
    /// The file's path in the app, e.g. `src/App.jsx`.
    path: FilePath,
}

/// `If-None-Match` of a conditional read.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfNoneMatch {
    /// An ETag this client holds (or `*`): a 304 without a body when it is current.
    #[param(rename = "If-None-Match")]
    if_none_match: Option<String>,
}

/// A write's answer: `render` only with `?wait=rendered`.
#[derive(ToSchema)]
#[allow(dead_code)] // Sent as `WriteResponse` or `WrittenAndRendered`.
pub struct WriteAnswer {
    /// The revision that holds the write; the previous one when nothing changed.
    revision: u64,
    /// How many files the write added, changed or deleted.
    changed: u64,
    /// What the preview showed, with `?wait=rendered` only.
    #[schema(nullable = false)]
    render: Option<RenderWait>,
}

/// One server-sent event of `GET /v1/apps/{app_id}/preview/events`: its
/// `event:` name and its JSON `data:`. `snapshot` comes first (and again
/// for a subscriber that fell behind), `state` and `step` on each change,
/// `render` on each new render verdict.
#[derive(Serialize, ToSchema)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum PreviewEvent {
    Snapshot(PreviewView),
    State(PreviewView),
    Step(PreviewView),
    Render(RenderReport),
}

/// One server-sent event of `GET /v1/apps/{app_id}/logs/stream`: `event:
/// line`, `id:` the line's cursor (send it back as `Last-Event-ID`), `data:`
/// the line. Comments (`: keep-alive`) while nothing is printed.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct LogEvent {
    /// Always `line`.
    event: LogEventName,
    /// The line's cursor.
    id: String,
    data: LogLine,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum LogEventName {
    Line,
}

/// Raw bytes: a file's or a blob's content.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}
