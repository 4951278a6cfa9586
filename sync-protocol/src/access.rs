//! Private previews: who may see one. The provisioner signs expiring links
//! with a key derived per app from the deployment's secret; whoever checks a
//! visit (the local edge proxy, the preview gateway in the machine) holds
//! only that app's key, so a machine can verify its own links and mint
//! nothing for another app. Rotating an app's key generation revokes every
//! link and cookie made before.
//!
//! A token is `pa1.<appId>.<expires, unix seconds>.<hex HMAC-SHA256>`. It is
//! the link's `token` query parameter, the access cookie's value, and a
//! bearer token, all three the same thing: possession until expiry.
//! [`decide`] is the whole policy as one pure function, so both checkers
//! behave alike and the table in its tests is the contract.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::AppId;

/// The cookie a valid link sets.
pub const ACCESS_COOKIE: &str = "preview_access";
/// The path of a link: `<preview url>/__preview/access?token=...`.
pub const ACCESS_PATH: &str = "/__preview/access";
const TOKEN_PREFIX: &str = "pa1";

type HmacSha256 = Hmac<Sha256>;

/// Whether a preview answers anyone or only holders of a link.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Public,
    Private,
}

impl std::str::FromStr for Visibility {
    type Err = String;

    fn from_str(text: &str) -> Result<Visibility, String> {
        match text {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            other => Err(format!("{other:?} is not public or private")),
        }
    }
}

/// One app's signing key. Debug-printing it never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey([u8; 32]);

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AccessKey(..)")
    }
}

/// Why a token does not grant access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessRefused {
    #[error("the access token is not one this provisioner makes")]
    Malformed,
    #[error("the access token is for another app")]
    OtherApp,
    #[error("the access token's signature does not match (tampered, or revoked by rotation)")]
    BadSignature,
    #[error("the access link has expired; ask the editor for a new one")]
    Expired,
    #[error("this preview is private; open it through a link from the editor")]
    Missing,
}

impl AccessKey {
    /// The key of `app` at rotation `generation`, from the deployment secret.
    pub fn derive(secret: &[u8], app: &AppId, generation: u64) -> AccessKey {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(format!("preview-access-key-v1\n{app}\n{generation}").as_bytes());
        AccessKey(mac.finalize().into_bytes().into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<AccessKey> {
        let bytes = hex::decode(text).ok()?;
        Some(AccessKey(bytes.try_into().ok()?))
    }

    fn mac(&self, app: &AppId, expires: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(format!("{TOKEN_PREFIX}\n{app}\n{expires}").as_bytes());
        mac
    }

    /// A token granting access to `app` until `expires` (unix seconds).
    pub fn sign(&self, app: &AppId, expires: u64) -> String {
        let signature = hex::encode(self.mac(app, expires).finalize().into_bytes());
        format!("{TOKEN_PREFIX}.{app}.{expires}.{signature}")
    }

    /// The token's expiry when it grants access to `app` at `now`. The
    /// signature is compared in constant time.
    pub fn verify(&self, app: &AppId, token: &str, now: u64) -> Result<u64, AccessRefused> {
        let mut parts = token.split('.');
        let (Some(TOKEN_PREFIX), Some(token_app), Some(expires), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(AccessRefused::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| AccessRefused::Malformed)?;
        let signature = hex::decode(signature).map_err(|_| AccessRefused::Malformed)?;
        if token_app != app.as_str() {
            return Err(AccessRefused::OtherApp);
        }
        self.mac(app, expires)
            .verify_slice(&signature)
            .map_err(|_| AccessRefused::BadSignature)?;
        if expires <= now {
            return Err(AccessRefused::Expired);
        }
        Ok(expires)
    }
}

/// What a checker saw of one request.
#[derive(Clone, Debug, Default)]
pub struct Visit<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// Every `Cookie` header's value.
    pub cookies: Vec<&'a str>,
    pub authorization: Option<&'a str>,
}

impl<'a> Visit<'a> {
    /// What a checker needs of a request: its path, query, cookies and
    /// `Authorization` (values that are not text are ignored).
    pub fn of(uri: &'a http::Uri, headers: &'a http::HeaderMap) -> Visit<'a> {
        Visit {
            path: uri.path(),
            query: uri.query(),
            cookies: headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect(),
            authorization: headers
                .get(http::header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok()),
        }
    }
}

/// What to do with a visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessDecision {
    /// Public preview, or a valid cookie or bearer token: forward it.
    Allow,
    /// A valid link: set the cookie and send the browser to `location`.
    SetCookie {
        token: String,
        max_age_seconds: u64,
        location: String,
    },
    /// Answer 401 with this reason; never forward, never wake.
    Refuse(AccessRefused),
}

/// The policy: a public preview lets everyone in; a private one only a
/// valid link (which becomes a cookie), cookie or bearer token.
pub fn decide(
    visibility: Visibility,
    key: Option<&AccessKey>,
    app: &AppId,
    visit: &Visit<'_>,
    now: u64,
) -> AccessDecision {
    if visibility == Visibility::Public {
        return AccessDecision::Allow;
    }
    let Some(key) = key else {
        return AccessDecision::Refuse(AccessRefused::Missing);
    };
    if visit.path == ACCESS_PATH {
        let token = query_value(visit.query.unwrap_or(""), "token");
        return match token.map(|token| (key.verify(app, token, now), token)) {
            Some((Ok(expires), token)) => AccessDecision::SetCookie {
                token: token.to_owned(),
                max_age_seconds: expires - now,
                location: safe_location(query_value(visit.query.unwrap_or(""), "to")),
            },
            Some((Err(refused), _)) => AccessDecision::Refuse(refused),
            None => AccessDecision::Refuse(AccessRefused::Missing),
        };
    }
    let presented = bearer(visit.authorization).into_iter().chain(
        visit
            .cookies
            .iter()
            .flat_map(|header| cookie_values(header)),
    );
    let mut first_refusal = None;
    for token in presented {
        match key.verify(app, token, now) {
            Ok(_) => return AccessDecision::Allow,
            Err(refused) => {
                first_refusal.get_or_insert(refused);
            }
        }
    }
    AccessDecision::Refuse(first_refusal.unwrap_or(AccessRefused::Missing))
}

/// An answer a checker sends instead of forwarding, as plain parts so the
/// edge proxy and the gateway send the same bytes from their own types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessAnswer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl AccessAnswer {
    /// The answer as a response with any body type text converts into.
    pub fn into_response<B: From<String>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::UNAUTHORIZED);
        for (name, value) in self.headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .append(http::HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// The seconds since the epoch, as tokens count time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// What to send for `decision`; `None` when the request goes through.
pub fn answer(decision: AccessDecision, app: &AppId) -> Option<AccessAnswer> {
    let no_store = ("cache-control", "no-store".to_owned());
    match decision {
        AccessDecision::Allow => None,
        AccessDecision::SetCookie {
            token,
            max_age_seconds,
            location,
        } => Some(AccessAnswer {
            status: 303,
            headers: vec![
                ("set-cookie", set_cookie_value(&token, max_age_seconds)),
                ("location", location),
                no_store,
            ],
            body: String::new(),
        }),
        AccessDecision::Refuse(reason) => Some(AccessAnswer {
            status: 401,
            headers: vec![
                ("content-type", "text/html; charset=utf-8".to_owned()),
                no_store,
            ],
            body: format!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Private preview</title></head>\
                 <body><h1>The preview of {app} is private</h1><p>{reason}.</p></body></html>\n"
            ),
        }),
    }
}

/// The `Set-Cookie` value for a valid link: usable inside an editor's
/// iframe on another site (`SameSite=None; Partitioned`), never by scripts.
pub fn set_cookie_value(token: &str, max_age_seconds: u64) -> String {
    format!(
        "{ACCESS_COOKIE}={token}; Path=/; Max-Age={max_age_seconds}; Secure; HttpOnly; SameSite=None; Partitioned"
    )
}

/// A `Cookie` header without the access cookie, so the app never sees it;
/// `None` when nothing else is left.
pub fn cookie_header_without_access(header: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(ACCESS_COOKIE))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

/// Whether an `Authorization` value is an access token (and so ours to strip).
pub fn is_access_bearer(authorization: &str) -> bool {
    bearer(Some(authorization)).is_some()
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    let token = authorization?.strip_prefix("Bearer ")?.trim();
    token.starts_with("pa1.").then_some(token)
}

fn cookie_values(header: &str) -> impl Iterator<Item = &str> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == ACCESS_COOKIE).then_some(value)
    })
}

fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// Where a link sends the browser: a path on the preview itself, never
/// another site (`//evil`, `/\evil`, or anything not starting with `/`).
fn safe_location(to: Option<&str>) -> String {
    match to.map(percent_decode) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.contains(['\r', '\n']) =>
        {
            path
        }
        _ => "/".to_owned(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match (bytes[index], bytes.get(index + 1..index + 3)) {
            (b'%', Some(hex))
                if std::str::from_utf8(hex).is_ok_and(|h| u8::from_str_radix(h, 16).is_ok()) =>
            {
                let hex = std::str::from_utf8(hex).expect("checked");
                decoded.push(u8::from_str_radix(hex, 16).expect("checked"));
                index += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                index += 1;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
