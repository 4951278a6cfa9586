//! `provisioner push`: a directory uploaded as an app's files, its preview
//! provisioned on the local driver and its URL printed.

use std::time::Duration;

use preview_tests::binaries::provisioner_binary;
use preview_tests::local_preview::{DEV_SERVER, LocalProvisioner};

const BOOT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn push_uploads_a_directory_and_prints_the_preview_url() {
    // Arrange: a project directory with a dev server, a file to delete later and a node_modules to skip.
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    let project = tempfile::tempdir().expect("project dir");
    std::fs::write(project.path().join("server.js"), DEV_SERVER).expect("write");
    std::fs::write(project.path().join("message.txt"), "pushed").expect("write");
    std::fs::write(project.path().join("old.txt"), "to be deleted").expect("write");
    std::fs::create_dir_all(project.path().join("node_modules/x")).expect("mkdir");
    std::fs::write(project.path().join("node_modules/x/index.js"), "skipped").expect("write");
    let push = || {
        tokio::process::Command::new(provisioner_binary().expect("binary"))
            .args([
                "push",
                "--app",
                "pushed",
                "--server",
                &provisioner.base_url(),
                "--api-key",
                provisioner.api_key(),
            ])
            .arg(project.path())
            .output()
    };

    // Act
    let output = push().await.expect("push runs");

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("open {}", provisioner.preview_url("pushed"))),
        "{stdout}"
    );
    provisioner
        .visit_until("pushed", "/", BOOT, |status, body| {
            status == 200 && body == "pushed"
        })
        .await
        .expect("served");
    let app_dir = provisioner.data_dir().join("previews/pushed/app");
    assert!(
        !app_dir.join("node_modules/x/index.js").exists(),
        "node_modules is not pushed"
    );

    // A second push sends the change and the delete.
    std::fs::write(project.path().join("message.txt"), "pushed again").expect("write");
    std::fs::remove_file(project.path().join("old.txt")).expect("remove");
    let output = push().await.expect("push runs");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("saved 2 changes"),
        "{output:?}"
    );
    provisioner
        .visit_until("pushed", "/", BOOT, |_, body| body == "pushed again")
        .await
        .expect("updated");
    for _ in 0..100 {
        if !app_dir.join("old.txt").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !app_dir.join("old.txt").exists(),
        "the deleted file is removed from the preview"
    );
}
