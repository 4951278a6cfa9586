//! The schemas of the two validated strings, written by hand: their rules
//! live in `parse`, which a derive cannot see, so the document states them
//! here (a pattern and a length for an app id, a length for a path). Only
//! with the `openapi` feature, which the provisioner turns on for its
//! OpenAPI document.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

use crate::{AppId, FilePath, MAX_PATH_BYTES};

impl PartialSchema for AppId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "1 to 50 characters of a-z, 0-9 and '-', starting and ending with a letter or a digit",
            ))
            .pattern(Some("^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$"))
            .min_length(Some(1))
            .max_length(Some(AppId::MAX_LEN))
            .examples(["shop"])
            .into()
    }
}

impl ToSchema for AppId {}

impl PartialSchema for FilePath {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::Custom("file-path".to_owned())))
            .description(Some(
                "A relative, '/'-separated UTF-8 path: no empty, '.' or '..' segment, no backslash, \
                 NUL or control character, segments of at most 255 bytes, nothing under \
                 node_modules/ or .next/",
            ))
            .min_length(Some(1))
            .max_length(Some(MAX_PATH_BYTES))
            .examples(["src/App.jsx"])
            .into()
    }
}

impl ToSchema for FilePath {}
