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
