//! `provisioner push --app ID DIR`: the quickstart's second command. Uploads
//! a directory through the files API (one batch: changed and new files, and
//! deletes of files no longer in the directory), provisions the preview and
//! prints its URL. `--git URL[#ref]` asks the provisioner to import a
//! repository instead. A client of the HTTP API like any editor; it reads nothing
//! from the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use sync_protocol::{BatchRequest, FilePath, ManifestResponse, PreviewResponse, WriteResponse};

use crate::config::PushArgs;
use crate::import::tree::batch_changes;

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

    let Some(dir) = &args.dir else {
        let source = args.git.as_deref().unwrap_or_default();
        return push_git(&client, &server, &api_key, &args, source).await;
    };
    let local = read_tree(dir)?;
    let remote = remote_manifest(&client, &server, &api_key, app).await?;
    let changes = batch_changes(&local, &remote);
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

/// `--git URL[#ref]`: the provisioner imports the repository and boots the
/// preview; each step is printed with its log line.
async fn push_git(
    client: &reqwest::Client,
    server: &str,
    api_key: &str,
    args: &PushArgs,
    source: &str,
) -> anyhow::Result<()> {
    let app = args.app.as_str();
    let (url, reference) = match source.split_once('#') {
        Some((url, reference)) => (url, Some(reference)),
        None => (source, None),
    };
    let body = json!({
        "git": { "url": url, "ref": reference, "subdir": args.git_subdir },
        "token": args.git_token,
    });
    let imported: Imported = call(
        client
            .post(format!("{server}/v1/apps/{app}/import"))
            .bearer_auth(api_key)
            .json(&body),
    )
    .await?;
    for step in &imported.import.steps {
        println!("{app}: {} {}: {}", step.name, step.status, step.log);
    }
    println!("{app}: preview {}", imported.preview.state);
    match imported.preview.url {
        Some(url) => println!("open {url}"),
        None => bail!("the provisioner returned no preview URL"),
    }
    Ok(())
}

/// The import answer, as much of it as `push` prints.
#[derive(Deserialize)]
struct Imported {
    import: ImportedSteps,
    preview: PreviewResponse,
}

#[derive(Deserialize)]
struct ImportedSteps {
    steps: Vec<ImportedStep>,
}

#[derive(Deserialize)]
struct ImportedStep {
    name: String,
    status: String,
    log: String,
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
