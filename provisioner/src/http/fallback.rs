//! Every answer the API gives is the documented JSON error or a success,
//! including the ones no handler writes: an unknown route (404), a known
//! route with the wrong method (405), and what an extractor refuses before a
//! handler runs (a percent-encoded path that is not UTF-8, a body of the
//! wrong type). A client parsing `{"error":{"code","message"}}` never meets
//! a plain-text or empty error body.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The longest plain-text error body kept as the message; axum's are short.
const MAX_PLAIN_MESSAGE_BYTES: usize = 1024;

/// `Router::fallback`: no route matches the path.
pub(super) async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(
        "route_not_found",
        format!(
            "no route {method} {}; the routes are listed in README.md (\"The API in one table\")",
            printable(uri.path())
        ),
    )
}

/// `Router::method_not_allowed_fallback`: the path is known, the method is not.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} does not take {}; the Allow header lists the methods it takes",
            printable(uri.path()),
            printable(method.as_str())
        ),
    )
}

/// Middleware: turns an error answer that is not JSON (an extractor's
/// plain-text refusal) into the documented JSON error, keeping its status,
/// its headers and its text as the message.
pub(super) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match to_bytes(body, MAX_PLAIN_MESSAGE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (code, default_message) = code_of(status);
    let message = if text.is_empty() || status.is_server_error() {
        default_message.to_owned()
    } else {
        text
    };
    let json = ApiError::new(status, code, message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::new(json.into_body()))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

/// The code and a message that says what to change, for a bare status.
fn code_of(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => (
            "request_invalid",
            "the request could not be read; check its URL, headers and body",
        ),
        StatusCode::NOT_FOUND => (
            "route_not_found",
            "no such route; the routes are listed in README.md",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "the route does not take this method; the Allow header lists the methods it takes",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            "the request body is larger than the server accepts; send a smaller one",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "body_invalid",
            "the body has the wrong Content-Type; send application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("body_invalid", "the body could not be read"),
        status if status.is_server_error() => ("internal", "internal error"),
        _ => ("request_invalid", "the request was refused"),
    }
}

/// At most 200 characters of attacker-chosen text, for a message.
fn printable(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut shown: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bare_status_gets_a_code_and_a_message_that_says_what_to_change() {
        let cases = [
            (StatusCode::BAD_REQUEST, "request_invalid"),
            (StatusCode::NOT_FOUND, "route_not_found"),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "body_invalid"),
            (StatusCode::UNPROCESSABLE_ENTITY, "body_invalid"),
            (StatusCode::BAD_GATEWAY, "internal"),
            (StatusCode::IM_A_TEAPOT, "request_invalid"),
        ];
        for (status, expected) in cases {
            let (code, message) = code_of(status);
            assert_eq!(code, expected, "{status}");
            assert!(!message.is_empty(), "{status}");
        }
    }

    #[test]
    fn long_attacker_text_is_cut_in_messages() {
        assert_eq!(printable("/short"), "/short");
        let shown = printable(&"x".repeat(5000));
        assert_eq!(shown.chars().count(), 201);
    }
}
