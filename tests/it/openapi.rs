//! The OpenAPI document against the real binary: the served document is
//! the checked-in one and what `provisioner openapi` prints, every
//! documented operation is a route the server has. (That no route is
//! registered past the document is checked on the sources, in
//! `provisioner::http::openapi`'s tests.)

use std::path::{Path, PathBuf};

use preview_tests::binaries::provisioner_binary;
use preview_tests::provisioner::TestProvisioner;
use reqwest::{Method, StatusCode};
use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every (method, path) the document describes.
fn operations(document: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                operations.push((method, path.clone()));
            }
        }
    }
    operations
}

/// A concrete URL path for a documented template.
fn concrete(template: &str) -> String {
    template
        .replace("{app_id}", "openapi-check")
        .replace("{path}", "src/App.jsx")
        .replace("{sha256}", &"0".repeat(64))
}

#[tokio::test]
async fn the_served_document_is_the_checked_in_one_and_what_the_subcommand_prints() {
    let provisioner = TestProvisioner::spawn().await.unwrap();

    let served = provisioner
        .client()
        .get(format!("{}/v1/openapi.json", provisioner.base_url()))
        .send()
        .await
        .unwrap();
    let printed = tokio::process::Command::new(provisioner_binary().unwrap())
        .arg("openapi")
        .output()
        .await
        .unwrap();

    assert_eq!(served.status(), StatusCode::OK, "no credentials needed");
    assert_eq!(served.headers()["content-type"], "application/json");
    let served = served.text().await.unwrap();
    assert!(printed.status.success());
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), served);
    let checked_in = std::fs::read_to_string(workspace_root().join("docs/openapi.json"))
        .expect("docs/openapi.json exists");
    assert!(
        checked_in == served,
        "docs/openapi.json is stale; regenerate it with \
         `cargo run -p provisioner -- openapi > docs/openapi.json`"
    );
    let document: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

#[tokio::test]
async fn every_documented_operation_is_a_route_the_server_answers() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let document: Value = provisioner
        .client()
        .get(format!("{}/v1/openapi.json", provisioner.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations = operations(&document);
    assert!(operations.len() >= 30, "{} operations", operations.len());

    let mut unrouted = Vec::new();
    for (method, template) in &operations {
        // Without credentials: each answers at once (401, or a public route).
        let response = provisioner
            .client()
            .request(
                method.clone(),
                format!("{}{}", provisioner.base_url(), concrete(template)),
            )
            .send()
            .await
            .unwrap();
        let status = response.status();
        let is_json = response
            .headers()
            .get("content-type")
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
        let code = if is_json {
            let body: Value = response.json().await.unwrap_or_default();
            body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        } else {
            String::new()
        };
        if code == "route_not_found" || status == StatusCode::METHOD_NOT_ALLOWED {
            unrouted.push(format!("{method} {template}: {status} {code}"));
        }
    }
    assert!(
        unrouted.is_empty(),
        "documented but not served: {unrouted:#?}"
    );

    // And a route that is not documented is not served either.
    let unknown = provisioner
        .client()
        .get(format!("{}/v1/not-a-route", provisioner.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
