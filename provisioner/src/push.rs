//! `provisioner push --app ID DIR`: the quickstart's second command. Uploads
//! a directory through the files API (one batch: changed and new files, and
//! deletes of files no longer in the directory), provisions the preview and
//! prints its URL. A client of the HTTP API like any editor; it reads nothing
//! from the store.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use serde::de::DeserializeOwned;
use sync_protocol::{
    BatchChange, BatchRequest, FilePath, ManifestResponse, PreviewResponse, WriteResponse,
    sha256_hex,
};

use crate::config::PushArgs;

/// Directories a local checkout holds that a preview makes itself, or never needs.
const SKIPPED_DIRS: &[&str] = &["node_modules", ".git", ".next", "dist", ".vite"];

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let api_key = resolve_api_key(&args)?;
    let server = args.server.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(180))
        .build()
        .context("failed to build an HTTP client")?;
    let app = args.app.as_str();

    let local = read_tree(&args.dir)?;
    let remote = remote_manifest(&client, &server, &api_key, app).await?;
    let mut changes: Vec<BatchChange> = Vec::new();
    for (path, content) in &local {
        if remote.get(path) == Some(&sha256_hex(content)) {
            continue;
        }
        changes.push(match std::str::from_utf8(content) {
            Ok(text) => BatchChange {
                path: path.clone(),
                content: Some(text.to_owned()),
                ..BatchChange::default()
            },
            Err(_) => BatchChange {
                path: path.clone(),
                content_base64: Some(base64::engine::general_purpose::STANDARD.encode(content)),
                ..BatchChange::default()
            },
        });
    }
    let local_paths: BTreeSet<&String> = local.keys().collect();
    for path in remote.keys().filter(|path| !local_paths.contains(path)) {
        changes.push(BatchChange {
            path: path.clone(),
            delete: Some(true),
            ..BatchChange::default()
        });
    }
    let change_count = changes.len();
    if change_count == 0 {
        println!("{app}: {} files, all already saved", local.len());
    } else {
        let url = format!("{server}/v1/apps/{app}/files");
        let written: WriteResponse = call(
            client
                .post(url)
                .bearer_auth(&api_key)
                .json(&BatchRequest { changes }),
        )
        .await?;
        println!(
            "{app}: saved {change_count} changes, revision {}",
            written.revision
        );
    }

    let url = format!("{server}/v1/apps/{app}/provision-preview");
    let preview: PreviewResponse = call(client.post(url).bearer_auth(&api_key)).await?;
    println!("{app}: preview {}", preview.state);
    match preview.url {
        Some(url) => println!("open {url}"),
        None => bail!("the provisioner returned no preview URL: {preview:?}"),
    }
    Ok(())
}

/// The key from the flag or env, else the one `serve` keeps in its data dir.
fn resolve_api_key(args: &PushArgs) -> anyhow::Result<String> {
    if let Some(key) = args
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|key| !key.is_empty())
    {
        return Ok(key.to_owned());
    }
    let path = args.data_dir.join("api-key");
    let key = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no --api-key given and `{}` is not readable; pass the key `serve` printed",
            path.display()
        )
    })?;
    Ok(key.trim().to_owned())
}

/// Every file under `root` that the files API accepts, by relative path.
fn read_tree(root: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("failed to list `{}`", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to list `{}`", dir.display()))?;
            let path = entry.path();
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                let name = entry.file_name();
                if !SKIPPED_DIRS.iter().any(|skipped| name == *skipped) {
                    pending.push(path);
                }
                continue;
            }
            if !file_type.is_file() {
                continue;
            }
            let relative = path.strip_prefix(root)?.to_str().map(str::to_owned);
            let Some(relative) = relative.filter(|relative| FilePath::parse(relative).is_ok())
            else {
                eprintln!(
                    "skipping `{}`: not a path the files API accepts",
                    path.display()
                );
                continue;
            };
            let content = std::fs::read(&path)
                .with_context(|| format!("failed to read `{}`", path.display()))?;
            files.insert(relative, content);
        }
    }
    if files.is_empty() {
        bail!("`{}` holds no files to push", root.display());
    }
    Ok(files)
}

/// Path → sha256 of what the provisioner holds now.
async fn remote_manifest(
    client: &reqwest::Client,
    server: &str,
    api_key: &str,
    app: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let response = client
        .get(format!("{server}/v1/apps/{app}/files"))
        .bearer_auth(api_key)
        .send()
        .await
        .with_context(|| format!("the provisioner at {server} did not answer"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(BTreeMap::new());
    }
    let status = response.status();
    if !status.is_success() {
        bail!(
            "reading the manifest answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let manifest: ManifestResponse = response
        .json()
        .await
        .context("the manifest is not valid JSON")?;
    Ok(manifest
        .files
        .into_iter()
        .map(|entry| (entry.path.as_str().to_owned(), entry.sha256))
        .collect())
}

async fn call<T: DeserializeOwned>(request: reqwest::RequestBuilder) -> anyhow::Result<T> {
    let response = request
        .send()
        .await
        .context("the provisioner did not answer")?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("the provisioner answered {status}: {text}");
    }
    serde_json::from_str(&text)
        .with_context(|| format!("the provisioner answered an unexpected body: {text}"))
}
