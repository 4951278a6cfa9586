//! Answers no handler writes are still the documented JSON error.

use preview_tests::provisioner::TestProvisioner;
use reqwest::{Method, StatusCode};

use crate::files_api::refusal;

#[tokio::test]
async fn an_unknown_route_is_a_json_404_naming_the_route() {
    let provisioner = TestProvisioner::spawn().await.unwrap();

    let response = provisioner
        .request(Method::GET, "/v1/nowhere")
        .send()
        .await
        .unwrap();

    let (status, code, message) = refusal(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "route_not_found")
    );
    assert!(message.contains("GET /v1/nowhere"), "{message}");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_the_allowed_methods() {
    let provisioner = TestProvisioner::spawn().await.unwrap();

    let response = provisioner
        .request(Method::PATCH, "/v1/apps/app/files")
        .send()
        .await
        .unwrap();

    let allow = response.headers().get("allow").cloned();
    let (status, code, message) = refusal(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert!(message.contains("PATCH"), "{message}");
    let allow = allow.expect("an Allow header");
    assert!(allow.to_str().unwrap().contains("POST"), "{allow:?}");
}

#[tokio::test]
async fn a_path_that_is_not_utf8_is_a_json_400() {
    let provisioner = TestProvisioner::spawn().await.unwrap();

    let put = provisioner.put_file_encoded("app", "src/%FF.js", "x").await;
    let get = provisioner
        .request(Method::GET, "/v1/apps/app/files/%C3%28")
        .send()
        .await
        .unwrap();

    for response in [put, get] {
        let (status, code, message) = refusal(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!code.is_empty() && !message.is_empty(), "{code}: {message}");
    }
}
