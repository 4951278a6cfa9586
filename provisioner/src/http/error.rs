//! The one error type every handler returns.
//!
//! Domain modules have their own `thiserror` enums that know nothing about
//! HTTP; `From` impls next to each handler module map them here. A 5xx keeps
//! its cause for the log and sends the client only a generic message: the
//! cause is logged exactly once, when the response is built.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::{ErrorDetail, ErrorResponse};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable code: `path_invalid`, `file_too_large`, ...
    pub code: &'static str,
    /// Sent to the client; says what to change.
    pub message: String,
    /// For 5xx only: recorded in the log, never sent.
    pub cause: Option<anyhow::Error>,
    /// Seconds, for 429 and 503 answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            cause: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn payload_too_large(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// An unexpected failure: 500, cause logged, generic message sent.
    pub fn internal(cause: impl Into<anyhow::Error>) -> ApiError {
        ApiError {
            cause: Some(cause.into()),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }

    /// A dependency (Fly, the database) is unavailable for now: 503.
    pub fn unavailable(cause: impl Into<anyhow::Error>, retry_after: u64) -> ApiError {
        ApiError {
            cause: Some(cause.into()),
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "a dependency is unavailable; retry shortly",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.cause {
                Some(cause) => tracing::error!(
                    status = self.status.as_u16(),
                    error.message = %cause,
                    error.cause_chain = ?cause,
                    "request failed"
                ),
                None => tracing::error!(status = self.status.as_u16(), "request failed"),
            }
        }
        let body = ErrorResponse {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<sync_protocol::AppIdError> for ApiError {
    fn from(error: sync_protocol::AppIdError) -> ApiError {
        ApiError::bad_request("app_id_invalid", error.to_string())
    }
}

impl From<sync_protocol::PathError> for ApiError {
    fn from(error: sync_protocol::PathError) -> ApiError {
        ApiError::bad_request("path_invalid", error.to_string())
    }
}

/// Every `code` an error answer can carry, with what it means: the
/// `ErrorCode` enum of the OpenAPI document. A test reads the sources and
/// fails when a code is sent that is not listed here, or listed and never sent.
pub const ERROR_CODES: &[(&str, &str)] = &[
    (
        "request_invalid",
        "the request could not be read (URL, headers or body)",
    ),
    (
        "query_invalid",
        "a query parameter is malformed or missing its companion",
    ),
    (
        "body_invalid",
        "the body is not the JSON the route takes, or has the wrong Content-Type",
    ),
    (
        "body_too_large",
        "the body is larger than the server accepts",
    ),
    (
        "app_id_invalid",
        "the app id breaks its rules (1-50 of a-z, 0-9, '-')",
    ),
    ("path_invalid", "a file path breaks its rules"),
    ("unauthorized", "credentials are missing or not valid"),
    ("forbidden", "these credentials may not do this"),
    ("route_not_found", "no route has this path"),
    ("method_not_allowed", "the route does not take this method"),
    (
        "internal",
        "an unexpected failure; the cause is logged, never sent",
    ),
    (
        "unavailable",
        "the store or the server is busy; retry after Retry-After",
    ),
    ("file_too_large", "a file is larger than --max-file-bytes"),
    (
        "app_file_limit",
        "the write would exceed the app's file count limit",
    ),
    (
        "app_size_limit",
        "the write would exceed the app's total size limit",
    ),
    (
        "file_directory_conflict",
        "a path is both a file and a directory",
    ),
    ("file_not_found", "no such file in the app"),
    ("batch_invalid", "a change of the batch is malformed"),
    ("blob_not_found", "no such blob in the app"),
    ("sha256_invalid", "a hash is not 64 lower-case hex digits"),
    (
        "too_many_blobs",
        "a blob batch asks for more blobs than allowed",
    ),
    (
        "wait_invalid",
        "`wait` is out of range or not a known value",
    ),
    (
        "timeout_too_long",
        "`timeout` of a write's render wait is above its ceiling",
    ),
    ("preview_not_found", "the app has no preview"),
    (
        "preview_state",
        "the preview's state does not allow this now",
    ),
    (
        "preview_timeout",
        "the preview did not get there in time; the work goes on",
    ),
    (
        "preview_not_running",
        "restart and rebuild need a running preview",
    ),
    (
        "platform_unavailable",
        "the platform is busy or failing; retry after Retry-After",
    ),
    (
        "platform_error",
        "the platform refused; the preview's `error` says why",
    ),
    ("state_invalid", "an unknown preview state in a filter"),
    (
        "log_batch_too_large",
        "a log batch has more lines than allowed",
    ),
    ("log_line_too_long", "a log line is longer than allowed"),
    (
        "too_many_log_streams",
        "too many log streams are open for the app",
    ),
    (
        "last_event_id_invalid",
        "Last-Event-ID is not a log line's cursor",
    ),
    (
        "unknown_setting",
        "a settings patch names a field that is not a setting",
    ),
    ("setting_invalid", "a setting's value breaks its rules"),
    ("setting_too_large", "a setting's value is too large"),
    (
        "settings_contended",
        "the settings changed under this patch; send it again",
    ),
    (
        "ttl_out_of_range",
        "a preview link's ttl_seconds is out of range",
    ),
    ("import_invalid", "the import request is malformed"),
    (
        "repository_not_accessible",
        "the repository cannot be read with the credentials given",
    ),
    ("ref_not_found", "the branch or tag does not exist"),
    ("subdir_not_found", "the subdir does not exist at that ref"),
    (
        "not_a_web_project",
        "the imported tree holds neither package.json nor index.html",
    ),
    ("git_failed", "git itself failed"),
    (
        "boot_failed",
        "the imported files were saved but the preview could not be started or woken",
    ),
    ("asset_not_found", "the playground has no such asset"),
];
