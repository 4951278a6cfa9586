//! The playground: the page at `/` where a newcomer watches previews, edits
//! an app's files and sees the preview, its logs and errors. Its sources are
//! `provisioner/playground/`; `npm run build` there writes `dist/`, which is
//! checked in and embedded here, so building the binary needs no npm.
//!
//! The page is static and holds no secret: preview code runs on this machine
//! and could fetch `/`. The user gives the page the operator key (pasted, or
//! in a `#key=` fragment, which browsers never send), and the page calls the
//! API with it like any other client. The answers carry a Content-Security-
//! Policy that lets the page run only its own assets, call only this origin
//! and frame only the previews' origin, and the HTML is never cached.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sync_protocol::AppId;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorResponse;
use super::{ApiError, AppState};

/// The page itself.
const INDEX_HTML: &str = include_str!("../../playground/dist/index.html");

/// One built file served under `/playground/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file of `dist/` but the page (the bundle check keeps this list whole).
const ASSETS: &[Asset] = &[
    Asset {
        name: "playground.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../playground/dist/playground.js"),
    },
    Asset {
        name: "playground.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../playground/dist/playground.css"),
    },
];

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(index))
        .routes(routes!(asset))
}

/// `{asset}` of the playground's files.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // A parameter description only.
struct AssetPath {
    /// `playground.js` or `playground.css`.
    asset: String,
}

/// The page, with its policy; never cached, so a new binary's page is the one shown.
#[utoipa::path(
    get,
    path = "/",
    tag = "operations",
    operation_id = "playground_page",
    responses((status = 200, description = "The playground page (it asks for the operator key itself)", content_type = "text/html; charset=utf-8", body = String, headers(
        ("Content-Security-Policy" = String),
        ("Cache-Control" = String, description = "`no-store`"),
    ))),
)]
async fn index(State(state): State<AppState>) -> Response {
    // Where a new preview would be (the frame source is the platform's domain).
    let fresh = crate::lifecycle::driver::DriverData::new();
    let sample = AppId::parse("app").map(|app_id| state.lifecycle.driver().url(&app_id, &fresh));
    let frames = sample.ok().as_deref().and_then(frame_source);
    let policy = content_security_policy(frames.as_deref());
    let mut response = INDEX_HTML.into_response();
    let headers = response.headers_mut();
    set(headers, header::CONTENT_TYPE, "text/html; charset=utf-8");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// A built asset by name; any other name is the JSON 404 every route gives.
#[utoipa::path(
    get,
    path = "/playground/{*asset}",
    tag = "operations",
    operation_id = "playground_asset",
    params(AssetPath),
    responses(
        (status = 200, description = "The asset", content((String = "text/javascript; charset=utf-8"), (String = "text/css; charset=utf-8")), headers(("Cache-Control" = String, description = "`no-cache`"))),
        (status = 404, description = "`asset_not_found`", body = ErrorResponse),
    ),
)]
async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        let known: Vec<&str> = ASSETS.iter().map(|asset| asset.name).collect();
        return Err(ApiError::not_found(
            "asset_not_found",
            format!(
                "the playground has no asset {:?}; its assets are {}",
                name.chars().take(100).collect::<String>(),
                known.join(", ")
            ),
        ));
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    set(headers, header::CONTENT_TYPE, asset.content_type);
    // Revalidated each time: the names carry no hash, and a new binary serves new files.
    set(headers, header::CACHE_CONTROL, "no-cache");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    Ok(response)
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

/// The page's policy: its own scripts, styles and API only; `frames` (the
/// previews' origin) the one thing it may frame; nobody may frame it.
fn content_security_policy(frames: Option<&str>) -> String {
    let frames = frames.unwrap_or("'none'");
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; frame-src {frames}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// The CSP source that matches every preview, from one preview's URL: its
/// scheme and port, with the host's first label (the app's own) as `*`.
/// `None` when the URL is not an absolute http(s) URL with a host.
fn frame_source(preview_url: &str) -> Option<String> {
    let url = url::Url::parse(preview_url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = match url.host()? {
        url::Host::Domain(domain) => match domain.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => format!("*.{parent}"),
            _ => domain.to_owned(),
        },
        other => other.to_string(),
    };
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    Some(format!("{}://{host}{port}", url.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_source_covers_every_preview_of_the_platform_and_nothing_else() {
        let cases = [
            (
                "http://preview-web.localhost:8080/",
                Some("http://*.localhost:8080"),
            ),
            ("https://preview-web.fly.dev", Some("https://*.fly.dev")),
            (
                "https://preview-prod-web.fly.dev/",
                Some("https://*.fly.dev"),
            ),
            ("http://127.0.0.1:9000/", Some("http://127.0.0.1:9000")),
            ("http://localhost:9000/", Some("http://localhost:9000")),
            ("ftp://preview-web.example", None),
            ("not a url", None),
        ];
        for (url, expected) in cases {
            assert_eq!(frame_source(url).as_deref(), expected, "{url}");
        }
    }

    #[test]
    fn the_policy_frames_only_the_previews_and_runs_only_its_own_assets() {
        let policy = content_security_policy(Some("http://*.localhost:8080"));
        assert!(
            policy.contains("frame-src http://*.localhost:8080;"),
            "{policy}"
        );
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(policy.contains("default-src 'none'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        let without = content_security_policy(None);
        assert!(without.contains("frame-src 'none';"), "{without}");
    }

    #[test]
    fn the_page_names_the_assets_that_are_embedded() {
        for asset in ASSETS {
            assert!(
                INDEX_HTML.contains(&format!("/playground/{}", asset.name)),
                "index.html does not load {}",
                asset.name
            );
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
        }
    }
}
