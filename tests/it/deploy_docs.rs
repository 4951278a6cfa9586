//! The commands of `docs/deploy.md` that need no Fly account, run as written.
//! A code block preceded by `<!-- deploy_docs: NAME -->` is one of them:
//! `fly.toml` blocks edit a copy of `fly.toml`, `run` blocks drive a local
//! provisioner the way an editor drives the one on Fly.

use std::path::Path;
use std::time::Duration;

use preview_tests::provisioner::TestProvisioner;
use tempfile::TempDir;

use crate::deploy_config::{FlyToml, root};

/// The dev server each local preview runs in this test: answers on `PORT`,
/// with no install (the saved app has no package.json).
const DEV_SERVER: &str = "node -e 'require(\"http\").createServer((q, s) => s.end(\"ok\")).listen(Number(process.env.PORT), \"127.0.0.1\")'";

#[test]
fn deploy_doc_fly_toml_edit_keeps_it_consistent() {
    let blocks = doc_blocks("fly.toml");
    assert_eq!(blocks.len(), 1, "one fly.toml block in docs/deploy.md");
    let dir = TempDir::new().unwrap();
    std::fs::copy(root().join("fly.toml"), dir.path().join("fly.toml")).unwrap();

    let output = bash(
        &blocks[0],
        dir.path(),
        &[
            ("ORG", "acme"),
            ("REGION", "ams"),
            ("PROVISIONER_APP", "acme-previews"),
            ("RUNTIME_APP", "acme-runtime"),
            ("TAG", "v7"),
        ],
    );
    assert!(output.status.success(), "{}", describe(&output));

    let before = FlyToml::read(&root().join("fly.toml"));
    let after = FlyToml::read(&dir.path().join("fly.toml"));
    assert_eq!(after.str(&["app"]), "acme-previews");
    assert_eq!(after.str(&["primary_region"]), "ams");
    assert_eq!(after.env("FLY_REGION"), "ams");
    assert_eq!(after.env("FLY_ORG_SLUG"), "acme");
    assert_eq!(
        after.env("PROVISIONER_PUBLIC_URL"),
        "https://acme-previews.fly.dev"
    );
    assert_eq!(
        after.env("PREVIEW_IMAGE"),
        "registry.fly.io/acme-runtime:v7"
    );
    // Nothing else moved: the same keys, and comments that still describe the file.
    assert_eq!(
        after.env("PROVISIONER_DATA_DIR"),
        before.env("PROVISIONER_DATA_DIR")
    );
    assert_eq!(
        after.str(&["build", "dockerfile"]),
        before.str(&["build", "dockerfile"])
    );
    assert!(
        !dir.path().join("fly.toml.bak").exists(),
        "the backup is removed"
    );
}

#[tokio::test]
async fn deploy_doc_editor_commands_work_against_a_provisioner() {
    let blocks = doc_blocks("run");
    assert!(
        blocks.len() >= 4,
        "docs/deploy.md lost its tested editor commands"
    );
    let provisioner =
        TestProvisioner::spawn_with_args(&["--local-exec", DEV_SERVER, "--local-install", "true"])
            .await
            .unwrap();
    let auth = format!("Authorization: Bearer {}", provisioner.api_key());
    let env = [
        ("API", provisioner.base_url()),
        ("AUTH", auth),
        ("APP_ID", "docs-demo".to_owned()),
    ];

    // The blocks share variables (`revision`), so they run as one script.
    let script = blocks.join("\n");
    let run = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        bash(&script, &root(), &env)
    });
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the documented commands finish within two minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Shown when the test fails, and with --no-capture.
    eprintln!("{}", describe(&output));
    assert!(output.status.success(), "{}", describe(&output));

    // What the commands promised: the files were saved, the preview came up,
    // applied the last save, and was deleted at the end.
    assert!(stdout.contains("preview shows revision"), "{stdout}");
    assert!(
        stdout.contains("\"url\""),
        "the preview's URL was shown: {stdout}"
    );
    let manifest = provisioner
        .manifest("docs-demo", "", None, provisioner.api_key())
        .await;
    let manifest: serde_json::Value = manifest.json().await.unwrap();
    let paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    for path in ["index.html", "src/message.js", "src/style.css"] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let preview = provisioner
        .request(reqwest::Method::GET, "/v1/apps/docs-demo/preview")
        .send()
        .await
        .unwrap();
    let preview: serde_json::Value = preview.json().await.unwrap();
    assert!(
        preview["state"] == "deleted" || preview["error"]["code"].is_string(),
        "the last command deletes the preview: {preview}"
    );
}

/// The code blocks marked `<!-- deploy_docs: {name} -->`, in order.
fn doc_blocks(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docs/deploy.md")).unwrap();
    let marker = format!("<!-- deploy_docs: {name} -->");
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != marker {
            continue;
        }
        assert_eq!(
            lines.next(),
            Some("```sh"),
            "{marker} must sit right above a ```sh block"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|line| *line != "```").collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

fn bash(script: &str, dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .envs(env.iter().copied())
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .expect("bash runs")
}

fn describe(output: &std::process::Output) -> String {
    format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
