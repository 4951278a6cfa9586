//! Schemas and parameters the document needs beyond the wire types: the
//! error answer with its code list, the path and header parameters routes
//! share, and the shapes of answers a handler builds by hand (a write with
//! or without its render, the event streams).

use sync_protocol::render::RenderWait;
use sync_protocol::{AppId, FilePath};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::http::error::ERROR_CODES;

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
/// `event:` name and its `data:`, the JSON text of the schema its
/// `contentSchema` names. `snapshot` comes first (and again for a
/// subscriber that fell behind), `state` and `step` on each change,
/// `render` on each new render verdict, `import` on each change of the
/// app's git import.
pub struct PreviewEvent;

impl PartialSchema for PreviewEvent {
    fn schema() -> RefOr<Schema> {
        let events = [
            ("snapshot", "Preview"),
            ("state", "Preview"),
            ("step", "Preview"),
            ("render", "RenderReport"),
            ("import", "ImportReport"),
        ];
        let mut one_of = OneOfBuilder::new().description(Some(
            "One server-sent event: `event:` names it, `data:` is the JSON text of the schema \
             its `contentSchema` names. `snapshot` comes first (and again for a subscriber that \
             fell behind), `state` and `step` on each change, `render` on each new render \
             verdict, `import` on each change of the app's git import.",
        ));
        for (name, data) in events {
            one_of = one_of.item(sse_event(name, data));
        }
        one_of.into()
    }
}

impl ToSchema for PreviewEvent {}

/// One server-sent event of `GET /v1/apps/{app_id}/logs/stream`: `event:
/// line`, `id:` the line's cursor (send it back as `Last-Event-ID`), `data:`
/// the line's JSON text. Comments (`: keep-alive`) while nothing is printed.
pub struct LogEvent;

impl PartialSchema for LogEvent {
    fn schema() -> RefOr<Schema> {
        let mut event = sse_event("line", "LogLine");
        event.description = Some(
            "One log line: `id:` is its cursor (send it back as `Last-Event-ID`), `data:` the \
             line's JSON text."
                .to_owned(),
        );
        event.properties.insert(
            "id".to_owned(),
            ObjectBuilder::new().schema_type(Type::String).into(),
        );
        event.required.push("id".to_owned());
        event.into()
    }
}

impl ToSchema for LogEvent {}

/// An event as Schemathesis and OpenAPI 3.2 read a stream: `event` its
/// name, `data` a string (SSE carries text) whose JSON is `data_schema`,
/// said with JSON Schema's `contentMediaType` and `contentSchema`.
fn sse_event(name: &str, data_schema: &str) -> Object {
    let mut data = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .build();
    data.extensions = Some(Extensions::from_iter([(
        "contentSchema",
        serde_json::json!({ "$ref": format!("#/components/schemas/{data_schema}") }),
    )]));
    ObjectBuilder::new()
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([name])),
        )
        .required("event")
        .property("data", data)
        .required("data")
        .build()
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
