//! Who may call what: the operator key (Bearer or X-API-Key, generated and
//! kept when not configured) and sync tokens scoped to their own app.

use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use sync_protocol::{DevServerState, SyncStatusReport};

use super::{refusal, written};

#[tokio::test]
async fn sync_tokens_read_only_their_own_app() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    written(provisioner.put_file("first", "a.txt", "alpha").await).await;
    written(provisioner.put_file("second", "b.txt", "beta").await).await;
    let token = provisioner.mint_sync_token("first").await.unwrap();
    let newer = provisioner.mint_sync_token("first").await.unwrap();
    let alpha = sync_protocol::sha256_hex(b"alpha");

    // Both tokens read their own app.
    for secret in [&token, &newer] {
        assert_eq!(
            provisioner
                .manifest("first", "", None, secret)
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        provisioner
            .get_file("first", "a.txt", &token)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        provisioner.get_blob("first", &alpha, &token).await.status(),
        StatusCode::OK
    );

    // Another app's files: 403, whatever the route.
    let cross = [
        provisioner.manifest("second", "", None, &token).await,
        provisioner.get_file("second", "b.txt", &token).await,
        provisioner
            .get_blob("second", &sync_protocol::sha256_hex(b"beta"), &token)
            .await,
    ];
    for response in cross {
        assert_eq!(refusal(response).await.0, StatusCode::FORBIDDEN);
    }

    // Forged, malformed, wrong or missing credentials: 401.
    let forged = format!("st1.first.{}", "0".repeat(64));
    for secret in [forged.as_str(), "st1.first.short", "wrong-key"] {
        let (status, code, _) =
            refusal(provisioner.manifest("first", "", None, secret).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "unauthorized"),
            "{secret}"
        );
    }
    let anonymous = provisioner
        .client()
        .get(format!("{}/v1/apps/first/files", provisioner.base_url()));
    assert_eq!(
        anonymous.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let by_api_key_header = provisioner
        .client()
        .get(format!("{}/v1/apps/first/files", provisioner.base_url()))
        .header("x-api-key", provisioner.api_key());
    assert_eq!(
        by_api_key_header.send().await.unwrap().status(),
        StatusCode::OK
    );

    // A token cannot write or mint.
    let write = provisioner
        .request_as(reqwest::Method::PUT, "/v1/apps/first/files/x.txt", &token)
        .body("x");
    assert_eq!(write.send().await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_daemon_reports_its_status_with_its_token_only() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let token = provisioner.mint_sync_token("app").await.unwrap();
    let other = provisioner.mint_sync_token("other").await.unwrap();
    let report = SyncStatusReport {
        revision: 3,
        dev_server: DevServerState::Ready,
        message: None,
        runtime: None,
        visited_secs_ago: None,
        render: None,
    };

    let accepted = provisioner.report_sync_status("app", &token, &report).await;
    let cross = provisioner.report_sync_status("app", &other, &report).await;
    let operator = provisioner
        .report_sync_status("app", provisioner.api_key(), &report)
        .await;

    assert_eq!(accepted.status(), StatusCode::NO_CONTENT);
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(operator.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_generated_key_is_printed_once_and_kept_private() {
    use std::os::unix::fs::PermissionsExt;

    // Arrange: no PROVISIONER_API_KEY.
    let mut provisioner = TestProvisioner::spawn_generating_key().await.unwrap();
    let key = provisioner.api_key().to_owned();
    let key_file = provisioner.data_dir().join("api-key");

    // Act
    provisioner.restart().await.unwrap();

    // Assert: kept owner-only, not printed again, and still the key.
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().trim(), key);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(provisioner.printed_key(), None);
    let response = provisioner.manifest("app", "", None, &key).await;
    assert_eq!(response.status(), StatusCode::OK);
}
