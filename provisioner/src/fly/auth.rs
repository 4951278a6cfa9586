//! The `Authorization` header Fly expects for a given token.
//!
//! Macaroon tokens (what `fly tokens create` prints) must travel under the
//! `FlyV1` scheme; older personal tokens use `Bearer`. The rule mirrors
//! fly-go's `AuthorizationHeader()`, so a token copied from either place works.

/// Builds the header value for `token`. The result is a secret: never log it.
pub fn authorization_value(token: &str) -> String {
    let token = token.trim();
    if token.starts_with("FlyV1 ") {
        token.to_owned()
    } else if token.starts_with("fm1r_") || token.starts_with("fm2_") {
        format!("FlyV1 {token}")
    } else {
        format!("Bearer {token}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_header_rule() {
        assert_eq!(
            authorization_value("FlyV1 fm2_abc,fm2_def"),
            "FlyV1 fm2_abc,fm2_def"
        );
        assert_eq!(authorization_value("fm2_abc"), "FlyV1 fm2_abc");
        assert_eq!(authorization_value("fm1r_xyz"), "FlyV1 fm1r_xyz");
        assert_eq!(
            authorization_value("plain-personal-token"),
            "Bearer plain-personal-token"
        );
        assert_eq!(authorization_value("  fm2_padded\n"), "FlyV1 fm2_padded");
        // A token that merely contains a macaroon prefix later is not a macaroon.
        assert_eq!(authorization_value("xfm2_abc"), "Bearer xfm2_abc");
    }
}
