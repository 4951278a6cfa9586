use std::path::{Path, PathBuf};

use super::*;
use crate::http::error::ERROR_CODES;

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_checked_in_document_is_what_the_code_generates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == document_json(),
        "docs/openapi.json differs from the document the code generates; regenerate it with \
         `cargo run -p provisioner -- openapi > docs/openapi.json` and commit it"
    );
}

#[test]
fn every_error_code_the_code_sends_is_listed_and_every_listed_code_is_sent() {
    let mut sent = std::collections::BTreeSet::new();
    for file in rust_files(&source_dir()) {
        if file.ends_with("http/openapi/tests.rs") {
            continue; // The scanner's own examples.
        }
        let text = std::fs::read_to_string(&file).unwrap();
        sent.extend(constructor_codes(&text));
        sent.extend(match_arm_codes(&text, "fn code_of("));
        if file.ends_with("http/import.rs") {
            sent.extend(match_arm_codes(&text, "fn code("));
        }
    }
    // Logged with the refusal, never sent: a files refusal keeps its own code.
    sent.remove("files_refused");
    let listed: std::collections::BTreeSet<String> = ERROR_CODES
        .iter()
        .map(|(code, _)| (*code).to_owned())
        .collect();
    let unlisted: Vec<_> = sent.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "codes sent but missing from http::error::ERROR_CODES (add them): {unlisted:?}"
    );
    let unsent: Vec<_> = listed.difference(&sent).collect();
    assert!(
        unsent.is_empty(),
        "codes in ERROR_CODES that no code sends (remove them): {unsent:?}"
    );
}

#[test]
fn the_code_scanner_finds_codes_however_a_call_is_wrapped() {
    let text = r#"
        ApiError::bad_request("one", "m");
        ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "two",
            error.to_string(),
        );
        ApiError::payload_too_large(
            "three", x);
        ApiError::internal(cause);
        fn code_of(status: StatusCode) -> (&'static str, &'static str) {
            match status {
                StatusCode::BAD_REQUEST => (
                    "four",
                    "text",
                ),
                _ => ("five", "text"),
            }
        }
    "#;
    let mut codes = constructor_codes(text);
    codes.extend(match_arm_codes(text, "fn code_of("));
    codes.sort();
    assert_eq!(codes, ["five", "four", "one", "three", "two"]);
}

/// Routes reach the router only through `routes!` (which documents them):
/// a plain axum `.route(` in the HTTP modules would serve a route the
/// document does not describe.
#[test]
fn no_route_is_registered_past_the_document() {
    let http = source_dir().join("http");
    let mut bypasses = Vec::new();
    for file in rust_files(&http) {
        if file.ends_with("http/openapi/tests.rs") {
            continue; // The list of bypasses below.
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for bypass in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                if code.contains(bypass) {
                    bypasses.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        bypasses.is_empty(),
        "register routes with `.routes(routes!(handler))` so the OpenAPI document describes \
         them (see provisioner/src/http/openapi/mod.rs): {bypasses:#?}"
    );
}

/// The code literals of `ApiError::<constructor>(` calls.
fn constructor_codes(text: &str) -> Vec<String> {
    const CONSTRUCTORS: [&str; 6] = [
        "ApiError::new(",
        "ApiError::bad_request(",
        "ApiError::not_found(",
        "ApiError::conflict(",
        "ApiError::payload_too_large(",
        "ApiError::forbidden(",
    ];
    let mut codes = Vec::new();
    for constructor in CONSTRUCTORS {
        for (at, _) in text.match_indices(constructor) {
            let mut rest = text[at + constructor.len()..].trim_start();
            if let Some(after_status) = rest.strip_prefix("StatusCode::") {
                let comma = after_status.find(',').unwrap_or(0);
                rest = after_status[comma + 1..].trim_start();
            }
            if constructor == "ApiError::forbidden(" {
                codes.push("forbidden".to_owned());
            } else if let Some(code) = leading_literal(rest) {
                codes.push(code);
            }
        }
    }
    if text.contains("ApiError::unauthorized(") {
        codes.push("unauthorized".to_owned());
    }
    codes
}

/// The first literal of each match arm (`=> "code"` or `=> ("code", ...)`)
/// in the body of the function starting with `signature`.
fn match_arm_codes(text: &str, signature: &str) -> Vec<String> {
    let Some(start) = text.find(signature) else {
        return Vec::new();
    };
    let body = &text[start..];
    let body = &body[..body.find("\n}").unwrap_or(body.len())];
    body.match_indices("=>")
        .filter_map(|(at, _)| {
            let rest = body[at + 2..].trim_start();
            leading_literal(rest.strip_prefix('(').unwrap_or(rest).trim_start())
        })
        .collect()
}

fn leading_literal(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?;
    let end = inner.find('"')?;
    let code = &inner[..end];
    code.bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        .then(|| code.to_owned())
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every `$ref` (those in event streams' `contentSchema` too, which utoipa
/// does not follow) names a schema the document holds.
#[test]
fn every_reference_in_the_document_resolves() {
    fn references(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                    found.push(target.clone());
                }
                map.values().for_each(|value| references(value, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }
    let document: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
    let mut found = Vec::new();
    references(&document, &mut found);
    let unresolved: Vec<&String> = found
        .iter()
        .filter(|target| {
            let pointer = target.strip_prefix('#').unwrap_or("not local");
            document.pointer(pointer).is_none()
        })
        .collect();
    assert!(found.len() > 50, "{} references", found.len());
    assert!(unresolved.is_empty(), "{unresolved:?}");
    assert!(found.contains(&"#/components/schemas/ImportReport".to_owned()));
}
