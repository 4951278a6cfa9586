//! Private previews in the machine: the same policy as the local edge proxy
//! (`sync_protocol::access`), checked with this app's own key, which is all
//! the daemon holds. Allowed requests reach the dev server without the
//! access cookie or bearer token, so the app never sees (or leaks) them.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use sync_protocol::AppId;
use sync_protocol::access::{self, AccessKey, Visit};
use sync_protocol::settings::DaemonAccess;

/// `None` lets the request through (stripped of the access credentials);
/// otherwise the answer to send instead.
pub(super) fn check(
    access: &DaemonAccess,
    app_id: &AppId,
    request: &mut Request,
) -> Option<Response> {
    let key = access.key.as_deref().and_then(AccessKey::from_hex);
    let visit = Visit::of(request.uri(), request.headers());
    let decision = access::decide(
        access.visibility,
        key.as_ref(),
        app_id,
        &visit,
        access::unix_now(),
    );
    match access::answer(decision, app_id) {
        Some(answer) => Some(answer.into_response()),
        None => {
            strip_credentials(request);
            None
        }
    }
}

/// Adds `frame-ancestors` when the operator restricts who may frame previews.
pub(super) fn restrict_framing(access: &DaemonAccess, response: &mut Response) {
    if let Some(ancestors) = &access.frame_ancestors
        && let Ok(value) = HeaderValue::from_str(&format!("frame-ancestors {ancestors}"))
    {
        response
            .headers_mut()
            .append(header::CONTENT_SECURITY_POLICY, value);
    }
}

fn strip_credentials(request: &mut Request) {
    let headers = request.headers_mut();
    let cookies: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(access::cookie_header_without_access)
        .collect();
    headers.remove(header::COOKIE);
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::COOKIE, value);
        }
    }
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(access::is_access_bearer)
    {
        headers.remove(header::AUTHORIZATION);
    }
}
