//! Private previews at the edge: a request for a private preview without a
//! valid link, cookie or bearer token is answered `401` here, before the
//! preview is looked up or woken, so a stranger cannot start (and bill)
//! a stopped preview. The policy and the answers are
//! `sync_protocol::access`, which the gateway in each preview applies too.

use axum::extract::Request;
use axum::response::Response;
use sync_protocol::AppId;
use sync_protocol::access::{self, AccessKey, Visibility, Visit};

/// `None` lets the request through; otherwise the answer to send instead.
pub(super) fn check(
    visibility: Visibility,
    key: Option<&AccessKey>,
    app_id: &AppId,
    request: &Request,
) -> Option<Response> {
    let visit = Visit::of(request.uri(), request.headers());
    let decision = access::decide(visibility, key, app_id, &visit, access::unix_now());
    Some(access::answer(decision, app_id)?.into_response())
}
