use std::fmt;

use crate::{AppId, sha256_hex};

/// A sync token: `st1.<appId>.<64 hex digits of secret>`.
///
/// The app id is part of the token so the server knows which app's token
/// digests to compare against without a lookup by secret, and so a token is
/// useless for any other app. Only the sha256 digest of the whole token is
/// stored server-side.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncToken {
    app_id: AppId,
    secret_hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("sync token is malformed")]
    Malformed,
}

const PREFIX: &str = "st1";

impl SyncToken {
    pub fn new(app_id: AppId, secret: [u8; 32]) -> SyncToken {
        SyncToken {
            app_id,
            secret_hex: hex::encode(secret),
        }
    }

    pub fn parse(text: &str) -> Result<SyncToken, TokenError> {
        let mut parts = text.splitn(3, '.');
        let (Some(PREFIX), Some(app), Some(secret_hex)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let app_id = AppId::parse(app).map_err(|_| TokenError::Malformed)?;
        if !crate::is_sha256_hex(secret_hex) {
            return Err(TokenError::Malformed);
        }
        Ok(SyncToken {
            app_id,
            secret_hex: secret_hex.to_owned(),
        })
    }

    pub fn app_id(&self) -> &AppId {
        &self.app_id
    }

    /// The hex sha256 of the token's full text: what the server stores.
    pub fn digest(&self) -> String {
        sha256_hex(self.expose().as_bytes())
    }

    /// The token's full text, to send in an `Authorization` header. Named so
    /// that every place a secret leaves memory is easy to find.
    pub fn expose(&self) -> String {
        format!("{PREFIX}.{}.{}", self.app_id, self.secret_hex)
    }
}

/// Never prints the secret, so a token can sit in a struct that is logged.
impl fmt::Debug for SyncToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncToken({}, <redacted>)", self.app_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_redacts() {
        let token = SyncToken::new(AppId::parse("app-1").unwrap(), [7; 32]);
        let text = token.expose();
        assert!(text.starts_with("st1.app-1."));
        assert_eq!(SyncToken::parse(&text).unwrap(), token);
        assert!(!format!("{token:?}").contains("0707"));
        assert_eq!(
            SyncToken::parse("st1.app-1.xyz"),
            Err(TokenError::Malformed)
        );
        assert_eq!(SyncToken::parse("bearer"), Err(TokenError::Malformed));
        assert_eq!(token.digest().len(), 64);
    }
}
