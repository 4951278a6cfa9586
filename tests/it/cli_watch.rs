//! `provisioner push --watch DIR`: after the initial push, a burst of edits,
//! additions and deletes becomes exactly one revision holding them all; the
//! next burst the next revision; the preview serves them; SIGINT ends it
//! with exit code 0.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use preview_tests::local_preview::{DEV_SERVER, LocalProvisioner};
use reqwest::Method;
use sync_protocol::sha256_hex;

use crate::cli::{Running, command};

const BOOT: Duration = Duration::from_secs(30);

/// The app's files on the provisioner: revision and path → sha256.
async fn saved(provisioner: &LocalProvisioner, app: &str) -> (u64, BTreeMap<String, String>) {
    let (status, manifest) = provisioner
        .call(Method::GET, &format!("/v1/apps/{app}/files"), None)
        .await
        .expect("manifest");
    assert_eq!(status, 200, "{manifest}");
    let files = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|file| {
            (
                file["path"].as_str().unwrap().to_owned(),
                file["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (manifest["revision"].as_u64().expect("revision"), files)
}

fn expected(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, content)| ((*path).to_owned(), sha256_hex(content.as_bytes())))
        .collect()
}

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

#[tokio::test]
async fn push_watch_saves_each_burst_of_edits_as_one_revision_until_ctrl_c() {
    // Arrange: a pushed, watched project.
    let provisioner = LocalProvisioner::start(&[]).await.expect("start");
    let project = tempfile::tempdir().expect("project");
    let root = project.path();
    write(root, "server.js", DEV_SERVER);
    write(root, "message.txt", "first");
    write(root, "old.txt", "to be deleted");
    let dir = root.to_str().unwrap();
    let mut watch = Running::spawn(command(
        &provisioner,
        &["push", "--app", "watched", "--watch", dir],
    ));
    watch
        .line(BOOT, |line| line == "watched: saved 3 changes, revision 1")
        .await;
    watch
        .line(BOOT, |line| line.starts_with("watched: watching "))
        .await;

    // Act: one burst that edits, adds (in a new directory too) and deletes.
    write(root, "message.txt", "second");
    write(root, "new.txt", "added");
    write(root, "src/deep/file.js", "nested");
    std::fs::remove_file(root.join("old.txt")).expect("delete");
    write(root, "node_modules/dep/index.js", "never pushed");

    // Assert: exactly one revision with all of it.
    let line = watch
        .line(BOOT, |line| line.starts_with("revision 2:"))
        .await;
    assert_eq!(
        line,
        "revision 2: 4 changed (message.txt, new.txt, src/deep/file.js, deleted old.txt)"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (revision, files) = saved(&provisioner, "watched").await;
    assert_eq!(revision, 2, "one burst, one revision");
    assert_eq!(
        files,
        expected(&[
            ("message.txt", "second"),
            ("new.txt", "added"),
            ("server.js", DEV_SERVER),
            ("src/deep/file.js", "nested"),
        ])
    );
    provisioner
        .visit_until("watched", "/", BOOT, |status, body| {
            status == 200 && body == "second"
        })
        .await
        .expect("the preview serves the burst");

    // The next burst, inside the directory made by the last one, is the next revision.
    write(root, "src/deep/file.js", "nested again");
    std::fs::remove_file(root.join("new.txt")).expect("delete");
    write(root, "message.txt", "third");
    let line = watch
        .line(BOOT, |line| line.starts_with("revision 3:"))
        .await;
    assert_eq!(
        line,
        "revision 3: 3 changed (message.txt, src/deep/file.js, deleted new.txt)"
    );
    let (revision, files) = saved(&provisioner, "watched").await;
    assert_eq!(revision, 3);
    assert_eq!(
        files,
        expected(&[
            ("message.txt", "third"),
            ("server.js", DEV_SERVER),
            ("src/deep/file.js", "nested again"),
        ])
    );
    // The preview's verdict may be printed before or after the save's line.
    if !watch.seen.iter().any(|line| line == "revision 3 applied") {
        watch.line(BOOT, |line| line == "revision 3 applied").await;
    }

    // Ctrl-C ends it cleanly.
    assert!(watch.interrupt().await, "push --watch exits 0 on SIGINT");
    watch
        .line(BOOT, |line| line == "watched: stopped watching")
        .await;
}
