//! Who is calling: the operator (the API key) or an app's sync daemon (its
//! sync token). Each is an extractor, so a handler states who may call it by
//! its argument list.
//!
//! Secrets are compared in constant time on their sha256 digests (equal
//! lengths, so `subtle` has nothing to leak), and never logged: nothing here
//! records a header.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use sync_protocol::{AppId, SyncToken};

use super::{ApiError, AppState};

/// The operator's API key, kept as its digest.
#[derive(Clone)]
pub struct OperatorKey {
    digest: Arc<[u8; 32]>,
}

impl OperatorKey {
    pub fn new(key: &str) -> OperatorKey {
        OperatorKey {
            digest: Arc::new(Sha256::digest(key.as_bytes()).into()),
        }
    }

    fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(self.digest.as_ref()).into()
    }
}

/// Never prints the key.
impl std::fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorKey(<redacted>)")
    }
}

/// The caller holds the operator key.
#[derive(Debug)]
pub struct Operator;

/// The caller may read the path's app's files: the operator, or that app's daemon.
#[derive(Debug)]
pub struct FilesReader;

/// The caller is the path's app's daemon, with a valid sync token.
#[derive(Debug)]
pub struct SyncAgent {
    pub app_id: AppId,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Credential::from_parts(parts)? {
            Credential::Other(key) if state.operator_key.matches(key) => Ok(Operator),
            Credential::Token(_) => Err(ApiError::forbidden(
                "a sync token cannot do this; use the operator API key",
            )),
            Credential::Other(_) => Err(ApiError::unauthorized("the API key is not valid")),
        }
    }
}

impl FromRequestParts<AppState> for FilesReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Credential::from_parts(parts)? {
            Credential::Other(key) if state.operator_key.matches(key) => Ok(FilesReader),
            Credential::Other(_) => Err(ApiError::unauthorized("the API key is not valid")),
            Credential::Token(token) => {
                verify_sync_token(parts, state, token).await?;
                Ok(FilesReader)
            }
        }
    }
}

impl FromRequestParts<AppState> for SyncAgent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Credential::from_parts(parts)? {
            Credential::Token(token) => Ok(SyncAgent {
                app_id: verify_sync_token(parts, state, token).await?,
            }),
            Credential::Other(_) => Err(ApiError::forbidden(
                "only the app's sync daemon reports its status; use the app's sync token",
            )),
        }
    }
}

/// A presented secret: a sync token (it has the token's shape), or anything else.
enum Credential<'a> {
    Token(SyncToken),
    Other(&'a str),
}

impl<'a> Credential<'a> {
    fn from_parts(parts: &'a Parts) -> Result<Credential<'a>, ApiError> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_secret);
        let api_key = parts
            .headers
            .get("x-api-key")
            .and_then(|value| value.to_str().ok());
        let Some(secret) = bearer.or(api_key).map(str::trim) else {
            return Err(ApiError::unauthorized(
                "missing credentials; send `Authorization: Bearer <key or sync token>`",
            ));
        };
        if secret.starts_with("st1.") {
            let token = SyncToken::parse(secret)
                .map_err(|_| ApiError::unauthorized("the sync token is malformed"))?;
            return Ok(Credential::Token(token));
        }
        Ok(Credential::Other(secret))
    }
}

/// The secret of `Bearer <secret>`; the scheme name is case-insensitive (RFC 9110).
fn bearer_secret(value: &str) -> Option<&str> {
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(secret)
}

/// Checks the token belongs to the path's app (else 403) and is one the
/// operator minted (else 401). Returns the app.
async fn verify_sync_token(
    parts: &mut Parts,
    state: &AppState,
    token: SyncToken,
) -> Result<AppId, ApiError> {
    let app_id = path_app_id(parts, state).await?;
    if token.app_id() != &app_id {
        return Err(ApiError::forbidden(format!(
            "this sync token belongs to another app; it cannot reach app {app_id}"
        )));
    }
    let presented = token.digest();
    let digests = state
        .sync_tokens
        .sync_token_digests(&app_id)
        .await
        .map_err(ApiError::from)?;
    // Compares against every digest, so the time taken says nothing about which matched.
    let matched = digests
        .iter()
        .fold(subtle::Choice::from(0), |matched, stored| {
            matched | stored.as_bytes().ct_eq(presented.as_bytes())
        });
    if bool::from(matched) {
        Ok(app_id)
    } else {
        Err(ApiError::unauthorized(
            "the sync token is not valid; mint a new one",
        ))
    }
}

async fn path_app_id(parts: &mut Parts, state: &AppState) -> Result<AppId, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|rejection| ApiError::bad_request("path_invalid", rejection.body_text()))?;
    let app_id = params
        .iter()
        .find(|(name, _)| *name == "app_id")
        .map(|(_, value)| value)
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!(
                "sync token checked on a route without an app_id"
            ))
        })?;
    Ok(AppId::parse(app_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_secret("Bearer key"), Some("key"));
        assert_eq!(bearer_secret("bearer key"), Some("key"));
        assert_eq!(bearer_secret("Basic a2V5"), None);
        assert_eq!(bearer_secret("Bearer"), None);
    }

    #[test]
    fn operator_key_matches_only_itself() {
        let key = OperatorKey::new("secret");
        assert!(key.matches("secret"));
        assert!(!key.matches("secret "));
        assert!(!key.matches(""));
        assert!(!format!("{key:?}").contains("secret"));
    }
}
