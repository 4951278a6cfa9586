//! The files API against the real `provisioner` binary: writes and reads,
//! batches, path rules, limits, blobs and durability. Credentials are in
//! `auth`; manifests, deltas and long-polls in `polling`.

mod auth;
mod polling;

use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sync_protocol::{ManifestResponse, WriteResponse};

/// The status, error code and message of a JSON error answer.
pub(crate) async fn refusal(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("error answers are JSON");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code, message)
}

pub(crate) async fn written(response: reqwest::Response) -> WriteResponse {
    assert_eq!(response.status(), StatusCode::OK, "write refused");
    response.json().await.unwrap()
}

pub(crate) async fn manifest_of(provisioner: &TestProvisioner, app: &str) -> ManifestResponse {
    let response = provisioner
        .manifest(app, "", None, provisioner.api_key())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn put_get_and_delete_a_file() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let key = provisioner.api_key();

    // Act
    let put = provisioner
        .put_file("app", "src/App.tsx", "export default 1")
        .await;

    // Assert
    assert_eq!(put.headers()["x-revision"], "1");
    assert_eq!(
        written(put).await,
        WriteResponse {
            revision: 1,
            changed: 1
        }
    );
    let read = provisioner.get_file("app", "src/App.tsx", key).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.text().await.unwrap(), "export default 1");
    let manifest = manifest_of(&provisioner, "app").await;
    assert_eq!(
        (manifest.revision, manifest.full, manifest.files.len()),
        (1, true, 1)
    );
    assert_eq!(
        manifest.files[0].sha256,
        sync_protocol::sha256_hex(b"export default 1")
    );
    assert_eq!(manifest.files[0].size, 16);

    let deleted = written(provisioner.delete_file("app", "src/App.tsx").await).await;
    assert_eq!(deleted.revision, 2);
    let (status, code, _) = refusal(provisioner.get_file("app", "src/App.tsx", key).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "file_not_found")
    );
    let (status, code, _) = refusal(provisioner.delete_file("app", "src/App.tsx").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "file_not_found")
    );
}

#[tokio::test]
async fn saving_the_same_content_keeps_the_revision() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    written(provisioner.put_file("app", "a.txt", "same").await).await;

    let again = written(provisioner.put_file("app", "a.txt", "same").await).await;

    assert_eq!(
        again,
        WriteResponse {
            revision: 1,
            changed: 0
        }
    );
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 1);
}

#[tokio::test]
async fn a_batch_applies_in_one_revision_or_not_at_all() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    written(provisioner.put_file("app", "old.txt", "old").await).await;

    // Act: one good batch, then one with a bad change at index 1.
    let batch = json!({"changes": [
        {"path": "b.txt", "content": "bee"},
        {"path": "bin/c.dat", "content_base64": "AAEC/w=="},
        {"path": "old.txt", "delete": true},
    ]});
    let good = written(provisioner.batch("app", &batch).await).await;
    let bad = json!({"changes": [
        {"path": "d.txt", "content": "dee"},
        {"path": "../escape", "content": "x"},
    ]});
    let (status, code, message) = refusal(provisioner.batch("app", &bad).await).await;

    // Assert
    assert_eq!(
        good,
        WriteResponse {
            revision: 2,
            changed: 3
        }
    );
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "path_invalid")
    );
    assert!(
        message.contains("change 1") && message.contains("../escape"),
        "{message}"
    );
    let manifest = manifest_of(&provisioner, "app").await;
    assert_eq!(manifest.revision, 2);
    let paths: Vec<&str> = manifest
        .files
        .iter()
        .map(|file| file.path.as_str())
        .collect();
    assert_eq!(paths, ["b.txt", "bin/c.dat"]);
    let binary = provisioner
        .get_file("app", "bin/c.dat", provisioner.api_key())
        .await;
    assert_eq!(binary.bytes().await.unwrap().as_ref(), [0, 1, 2, 255]);

    let missing =
        json!({"changes": [{"path": "e.txt", "content": "e"}, {"path": "nope", "delete": true}]});
    let (status, code, message) = refusal(provisioner.batch("app", &missing).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "file_not_found")
    );
    assert!(message.contains("change 1"), "{message}");
    let ambiguous = json!({"changes": [{"path": "f.txt", "content": "f", "delete": true}]});
    let (status, code, _) = refusal(provisioner.batch("app", &ambiguous).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "batch_invalid")
    );
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 2);
}

#[tokio::test]
async fn concurrent_writes_each_get_their_own_revision() {
    let provisioner = TestProvisioner::spawn().await.unwrap();

    // Act: twenty saves at once.
    let saves = (0..20).map(|index| {
        let path = format!("file-{index}.txt");
        let provisioner = &provisioner;
        async move { written(provisioner.put_file("app", &path, index.to_string()).await).await }
    });
    let outcomes = futures::future::join_all(saves).await;

    // Assert: none refused, revisions 1..=20 each handed out once.
    let mut revisions: Vec<u64> = outcomes.iter().map(|outcome| outcome.revision).collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=20).collect::<Vec<u64>>());
    let manifest = manifest_of(&provisioner, "app").await;
    assert_eq!((manifest.revision, manifest.files.len()), (20, 20));
}

#[tokio::test]
async fn every_path_rule_is_refused_on_write() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let overlong = "a".repeat(1025);
    // Encoded so that neither the client nor the server's router normalises them away.
    let encoded = [
        "..%2Fx",
        "%2Fetc%2Fx",
        "/etc/x",
        "a%2F%2Fb",
        "a//b",
        "a%2F.%2Fb",
        "a%5Cb",
        "a%00b",
        "a%0Ab",
        overlong.as_str(),
    ];
    for path in encoded {
        let response = provisioner.put_file_encoded("app", path, "x").await;
        let (status, code, message) = refusal(response).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "path_invalid"),
            "{path}"
        );
        assert!(!message.is_empty());
    }
    let raw = [
        "../x",
        "/etc/x",
        "a//b",
        "a/./b",
        "a\\b",
        "a\0b",
        overlong.as_str(),
    ];
    for path in raw {
        let batch = json!({"changes": [{"path": path, "content": "x"}]});
        let (status, code, _) = refusal(provisioner.batch("app", &batch).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "path_invalid"),
            "{path:?}"
        );
    }
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 0);

    let (status, code, _) = refusal(provisioner.put_file("Bad_App", "x", "x").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "app_id_invalid")
    );
}

#[tokio::test]
async fn limits_are_refused_with_their_codes() {
    let limits = [
        "--max-file-bytes",
        "100",
        "--max-files-per-app",
        "2",
        "--max-bytes-per-app",
        "150",
    ];
    let provisioner = TestProvisioner::spawn_with_args(&limits).await.unwrap();

    let (status, code, message) =
        refusal(provisioner.put_file("app", "big", vec![b'x'; 101]).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large")
    );
    assert!(message.contains("--max-file-bytes"), "{message}");
    // Far above the body limit: refused before it is read, still as JSON.
    // The server answers without reading the body and drops the connection,
    // so this request must not leave a half-used connection in the pool.
    let huge = provisioner
        .request(reqwest::Method::PUT, "/v1/apps/app/files/huge")
        .header("connection", "close")
        .body(vec![b'x'; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let (status, code, _) = refusal(huge).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large")
    );

    written(provisioner.put_file("app", "one", vec![b'1'; 100]).await).await;
    let (status, code, _) = refusal(provisioner.put_file("app", "two", vec![b'2'; 51]).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "app_size_limit")
    );
    written(provisioner.put_file("app", "two", vec![b'2'; 50]).await).await;
    let (status, code, message) = refusal(provisioner.put_file("app", "three", "3").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "app_file_limit")
    );
    assert!(message.contains("--max-files-per-app"), "{message}");
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 2);
}

#[tokio::test]
async fn blobs_by_hash_are_immutable_and_per_app() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let key = provisioner.api_key();
    written(provisioner.put_file("first", "a.txt", "alpha").await).await;
    written(provisioner.put_file("first", "b.txt", "beta").await).await;
    let (alpha, beta) = (
        sync_protocol::sha256_hex(b"alpha"),
        sync_protocol::sha256_hex(b"beta"),
    );

    let blob = provisioner.get_blob("first", &alpha, key).await;
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(
        blob.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        blob.headers()["etag"].to_str().unwrap(),
        format!("\"{alpha}\"")
    );
    assert_eq!(blob.text().await.unwrap(), "alpha");

    let batch = provisioner
        .blob_batch("first", &[beta.clone(), alpha.clone(), beta.clone()], key)
        .await;
    assert_eq!(batch.status(), StatusCode::OK);
    assert_eq!(batch.text().await.unwrap(), "betaalphabeta");

    // Another app cannot read a blob it does not hold, even knowing its hash.
    let (status, code, _) = refusal(provisioner.get_blob("second", &alpha, key).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "blob_not_found")
    );
    let (status, code, _) = refusal(
        provisioner
            .blob_batch("second", std::slice::from_ref(&alpha), key)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "blob_not_found")
    );
    let too_many = vec![alpha.clone(); sync_protocol::MAX_BLOBS_PER_BATCH + 1];
    let (status, code, _) = refusal(provisioner.blob_batch("first", &too_many, key).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "too_many_blobs")
    );
    let (status, code, _) = refusal(provisioner.get_blob("first", "not-a-hash", key).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "sha256_invalid")
    );
}

#[tokio::test]
async fn an_acknowledged_write_survives_a_kill() {
    let mut provisioner = TestProvisioner::spawn().await.unwrap();
    let token = provisioner.mint_sync_token("app").await.unwrap();
    written(provisioner.put_file("app", "saved.txt", "durable").await).await;

    // Act: SIGKILL straight after the 2xx, then start on the same data dir.
    provisioner.restart().await.unwrap();

    // Assert
    let read = provisioner.get_file("app", "saved.txt", &token).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(read.text().await.unwrap(), "durable");
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 1);
}

#[tokio::test]
async fn health_and_metrics_answer_without_credentials() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    written(provisioner.put_file("app", "a.txt", "a").await).await;

    let health = provisioner.healthz().await;
    let metrics = provisioner.metrics().await;

    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("provisioner_file_writes_total 1"), "{text}");
    assert!(
        text.contains("route=\"/v1/apps/{app_id}/files/{*path}\",status=\"200\""),
        "{text}"
    );
    assert!(text.contains("provisioner_long_poll_waiters 0"), "{text}");
}
