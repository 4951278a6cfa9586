//! One request's way through the emulator: authentication, the spec check,
//! the call log, injected faults, then the emulated operation.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::spec::Rejection;
use super::{RecordedCall, Shared, apps_api, lock, machines_api, realism};

/// An operation's answer.
pub(crate) enum Answer {
    Json(u16, Value),
    Empty(u16),
}

pub(crate) fn error(status: u16, message: impl Into<String>) -> Answer {
    Answer::Json(status, json!({"error": message.into()}))
}

/// What an operation handler is given.
pub(crate) struct Request {
    pub operation_id: String,
    pub params: std::collections::BTreeMap<String, String>,
    pub query: Vec<(String, String)>,
    pub lease_nonce: Option<String>,
    pub body: Option<Value>,
}

impl Request {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let index = {
        let mut calls = lock(&shared.calls);
        calls.push(RecordedCall {
            method: method.to_string(),
            path: uri.path().to_owned(),
            operation_id: None,
            query: query.clone(),
            body: serde_json::from_slice(&body).ok(),
            status: 0,
            rejection: None,
        });
        calls.len() - 1
    };
    let (answer, rejection) = answer(&shared, &method, &uri, &headers, &body, query, index).await;
    let (status, body) = match answer {
        Answer::Json(status, value) => (status, Some(value)),
        Answer::Empty(status) => (status, None),
    };
    {
        let mut calls = lock(&shared.calls);
        if let Some(call) = calls.get_mut(index) {
            call.status = status;
            call.rejection = rejection;
        }
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(value) => (status, axum::Json(value)).into_response(),
        None => status.into_response(),
    };
    let request_id = format!("01emulated{index:016}");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("fly-request-id", value);
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        let seconds = lock(&shared.faults).faults.retry_after_seconds;
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

/// Authenticates, checks the request against the spec, applies faults and runs the operation.
async fn answer(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    query: Vec<(String, String)>,
    index: usize,
) -> (Answer, Option<String>) {
    let authorized = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer ") || value.starts_with("FlyV1 "));
    if !authorized {
        return (error(401, "Authenticate: token validation error"), None);
    }
    let spec = &shared.spec;
    let (operation, params) = match spec.match_request(method.as_str(), uri.path()) {
        Ok(found) => found,
        Err(Rejection::UnknownPath) => {
            return (error(404, "unknown path"), Some("unknown path".to_owned()));
        }
        Err(Rejection::MethodNotAllowed) => {
            return (
                error(405, "method not allowed"),
                Some("method not allowed".to_owned()),
            );
        }
        Err(Rejection::Invalid(message)) => return (error(400, message.clone()), Some(message)),
    };
    if let Some(call) = lock(&shared.calls).get_mut(index) {
        call.operation_id = Some(operation.operation_id.clone());
    }
    let checked = spec
        .check_query(operation, &query)
        .and_then(|()| spec.check_headers(operation, |name| headers.contains_key(name)))
        .and_then(|()| spec.check_body(operation, body));
    let body = match checked {
        Ok(body) => body,
        Err(Rejection::Invalid(message)) => return (error(400, message.clone()), Some(message)),
        Err(other) => return (error(400, format!("{other:?}")), Some(format!("{other:?}"))),
    };
    let decision = lock(&shared.faults).decide(&operation.operation_id);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(status) = decision.fail_before {
        return (injected(status), None);
    }
    let request = Request {
        operation_id: operation.operation_id.clone(),
        params,
        query,
        lease_nonce: headers
            .get("fly-machine-lease-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    };
    let answer = if let Some(answer) = realism::gate(shared, &request) {
        answer
    } else if let Some(answer) = apps_api::handle(shared, &request) {
        answer
    } else {
        machines_api::handle(shared, &request).await
    };
    match decision.fail_after {
        Some(status) => (injected(status), None),
        None => (answer, None),
    }
}

fn injected(status: u16) -> Answer {
    if status == 429 {
        error(429, "rate limit exceeded")
    } else {
        error(status, "injected failure")
    }
}
