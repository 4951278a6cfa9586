//! Inputs that would be saved and then wedge a preview, refused at write time.

use preview_tests::provisioner::TestProvisioner;
use reqwest::StatusCode;
use serde_json::json;

use crate::files_api::{manifest_of, refusal, written};

#[tokio::test]
async fn a_file_name_longer_than_255_bytes_is_refused_at_write_time() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let long_name = format!("src/{}.js", "n".repeat(253));

    let put = refusal(provisioner.put_file("app", &long_name, "x").await).await;
    let batch = json!({"changes": [{"path": long_name, "content": "x"}]});
    let batched = refusal(provisioner.batch("app", &batch).await).await;

    for (status, code, message) in [put, batched] {
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "path_invalid")
        );
        assert!(message.contains("255 bytes"), "{message}");
    }
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 0);
    let longest = format!("src/{}", "n".repeat(255));
    written(provisioner.put_file("app", &longest, "x").await).await;
}

#[tokio::test]
async fn an_app_id_ending_in_a_dash_is_refused() {
    let provisioner = TestProvisioner::spawn().await.unwrap();

    let (status, code, message) = refusal(provisioner.put_file("a--b-", "x.txt", "x").await).await;

    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "app_id_invalid")
    );
    assert!(message.contains("trailing '-'"), "{message}");
    written(provisioner.put_file("a--b", "x.txt", "x").await).await;
}

#[tokio::test]
async fn a_batch_naming_one_path_twice_is_refused_and_changes_nothing() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let batch = json!({"changes": [
        {"path": "a.txt", "content": "first"},
        {"path": "b.txt", "content": "b"},
        {"path": "a.txt", "content": "second"},
    ]});

    let (status, code, message) = refusal(provisioner.batch("app", &batch).await).await;

    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "batch_invalid")
    );
    assert!(
        message.contains("changes 0 and 2") && message.contains("a.txt"),
        "{message}"
    );
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 0);
    let delete_and_write = json!({"changes": [
        {"path": "a.txt", "content": "x"},
        {"path": "a.txt", "delete": true},
    ]});
    let (status, _, _) = refusal(provisioner.batch("app", &delete_and_write).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_fields_in_a_batch_are_refused_naming_the_field() {
    let provisioner = TestProvisioner::spawn().await.unwrap();
    let top_level = json!({"changes": [{"path": "a.txt", "content": "a"}], "atomic": false});
    let per_change = json!({"changes": [{"path": "a.txt", "contents": "a"}]});

    for (body, field) in [(top_level, "atomic"), (per_change, "contents")] {
        let (status, code, message) = refusal(provisioner.batch("app", &body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "body_invalid"),
            "{field}"
        );
        assert!(
            message.contains("unknown field") && message.contains(field),
            "{message}"
        );
    }
    assert_eq!(manifest_of(&provisioner, "app").await.revision, 0);
}
