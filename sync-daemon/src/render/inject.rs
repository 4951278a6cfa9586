//! The page script in HTML answers: the gateway asks the dev server for
//! navigations uncompressed, and adds one `<script>` right after `<head>` of
//! every `text/html` answer to a `GET`, marked `Cache-Control: no-store` (a
//! cached copy would lack or keep the script regardless of this daemon).
//! Nothing else of the page changes: an answer in another encoding, or one
//! larger than [`MAX_HTML_BYTES`], passes as it came.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Response, header};

/// Where the page script posts its events (the gateway's own route).
pub const EVENTS_PATH: &str = "/__preview/events";
/// HTML pages up to this size get the script; a larger one passes untouched.
pub const MAX_HTML_BYTES: usize = 4 << 20;

const SCRIPT: &str = include_str!("page_script.js");

/// The `<script>` element, with the origins the page may `postMessage` to.
pub fn script_tag(editor_origins: &[String]) -> String {
    let origins = serde_json::to_string(editor_origins).expect("strings serialize");
    let body = SCRIPT
        .replace("__EDITOR_ORIGINS__", &origins)
        .replace("__EVENTS_PATH__", EVENTS_PATH);
    // Nothing inside may close the element early.
    let body = body.replace("</", "<\\/");
    format!("<script data-preview-gateway>{body}</script>")
}

/// A navigation's request: the dev server answers it uncompressed, so the
/// script can be added. Other requests keep their `Accept-Encoding`.
pub fn prepare_request(method: &Method, headers: &mut HeaderMap) {
    if crate::gateway::pages::wants_html(method, headers) {
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
}

/// Whether the answer to a `method` request is an HTML page the script goes in.
pub fn wants_script(method: &Method, headers: &HeaderMap) -> bool {
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    let identity = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|value| value.trim().eq_ignore_ascii_case("identity"));
    let small = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
        .is_none_or(|length| length <= MAX_HTML_BYTES);
    method == Method::GET && html && identity && small
}

/// `html` with `tag` after the opening `<head>` (else `<html>`, else the
/// doctype, else at the start).
pub fn insert(html: &[u8], tag: &str) -> Vec<u8> {
    let at = ["<head", "<html", "<!doctype"]
        .iter()
        .find_map(|name| end_of_open_tag(html, name))
        .unwrap_or(0);
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

/// Just past the `>` of the first `<name…>` (ASCII case-insensitive).
fn end_of_open_tag(html: &[u8], name: &str) -> Option<usize> {
    let name = name.as_bytes();
    let start = html
        .windows(name.len())
        .position(|window| window.eq_ignore_ascii_case(name))?;
    let after = html.get(start + name.len())?;
    if !(after.is_ascii_whitespace() || *after == b'>') {
        return None;
    }
    let close = html[start..].iter().position(|byte| *byte == b'>')?;
    Some(start + close + 1)
}

/// The answer with the script in, or as it came when it cannot take it.
pub async fn into_scripted(response: Response<Body>, tag: &str) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_HTML_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::debug!(%error, "an HTML answer could not be read whole");
            let message =
                "the dev server's page could not be read whole (over 4 MiB, or cut off); reload it";
            return Response::builder()
                .status(axum::http::StatusCode::BAD_GATEWAY)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"error": {"code": "page_unreadable", "message": message}})
                        .to_string(),
                ))
                .expect("a static response builds");
        }
    };
    let scripted = insert(&bytes, tag);
    for name in [header::CONTENT_LENGTH, header::ETAG, header::LAST_MODIFIED] {
        parts.headers.remove(name);
    }
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from(scripted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_goes_right_after_the_head_and_nothing_else_changes() {
        let cases = [
            (
                "<!doctype html><html lang=\"en\"><head><title>x</title></head></html>",
                "<!doctype html><html lang=\"en\"><head>S<title>x</title></head></html>",
            ),
            (
                "<!DOCTYPE html>\n<HTML>\n<HEAD data-x>\n</HEAD>",
                "<!DOCTYPE html>\n<HTML>\n<HEAD data-x>S\n</HEAD>",
            ),
            (
                "<!doctype html><header>a</header>",
                "<!doctype html>S<header>a</header>",
            ),
            (
                "<html><body>b</body></html>",
                "<html>S<body>b</body></html>",
            ),
            ("just text", "Sjust text"),
        ];
        for (page, expected) in cases {
            assert_eq!(
                String::from_utf8(insert(page.as_bytes(), "S")).unwrap(),
                expected,
                "{page}"
            );
        }
    }

    #[test]
    fn only_uncompressed_html_answers_to_a_get_take_the_script() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        let html = [("content-type", "text/html; charset=utf-8")];
        let cases = [
            (Method::GET, headers(&html), true),
            (Method::HEAD, headers(&html), false),
            (
                Method::GET,
                headers(&[("content-type", "text/javascript")]),
                false,
            ),
            (
                Method::GET,
                headers(&[("content-type", "text/html"), ("content-encoding", "gzip")]),
                false,
            ),
            (
                Method::GET,
                headers(&[
                    ("content-type", "text/html"),
                    ("content-length", "99999999"),
                ]),
                false,
            ),
        ];
        for (method, headers, expected) in cases {
            assert_eq!(
                wants_script(&method, &headers),
                expected,
                "{method} {headers:?}"
            );
        }
    }

    #[test]
    fn the_tag_cannot_be_closed_early_and_names_its_origins() {
        let tag = script_tag(&["https://editor.example".to_owned()]);
        assert!(tag.starts_with("<script data-preview-gateway>"));
        assert_eq!(tag.matches("</script>").count(), 1);
        assert!(tag.contains(r#"["https://editor.example"]"#));
        assert!(tag.contains(EVENTS_PATH));
    }

    #[tokio::test]
    async fn a_scripted_answer_is_not_cached_and_has_no_stale_length() {
        let response = Response::builder()
            .header(header::CONTENT_TYPE, "text/html")
            .header(header::CONTENT_LENGTH, "26")
            .header(header::ETAG, "\"abc\"")
            .body(Body::from("<html><head></head></html>"))
            .unwrap();
        let scripted = into_scripted(response, "<script></script>").await;
        assert_eq!(scripted.headers()[header::CACHE_CONTROL], "no-store");
        assert!(scripted.headers().get(header::ETAG).is_none());
        assert!(scripted.headers().get(header::CONTENT_LENGTH).is_none());
        let body = axum::body::to_bytes(scripted.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], b"<html><head><script></script></head></html>");
    }
}
