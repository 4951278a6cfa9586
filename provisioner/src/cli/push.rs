//! `provisioner push --app ID DIR`: the quickstart's second command. Uploads
//! a directory through the files API (one batch: changed and new files, and
//! deletes of files no longer in the directory), provisions the preview and
//! prints its URL; with `--watch`, then keeps the app equal to the directory
//! as it is edited (`watch`). `--git URL[#ref]` asks the provisioner to
//! import a repository instead. A client of the HTTP API like any editor; it
//! reads nothing from the store.

use std::collections::BTreeMap;

use anyhow::bail;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use sync_protocol::{AppId, ManifestResponse, PreviewResponse};

use super::connection::{ClientError, Connection};
use super::tree::read_tree;
use super::upload::save_batch;
use crate::config::PushArgs;
use crate::import::tree::batch_changes;

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let connection = Connection::open(&args.server)?;
    let app = &args.app;
    let Some(dir) = &args.dir else {
        let source = args.git.as_deref().unwrap_or_default();
        return push_git(&connection, &args, source).await;
    };
    let tree = read_tree(dir)?;
    for refused in &tree.refused {
        eprintln!(
            "skipping `{}`: not a path the files API accepts",
            refused.display()
        );
    }
    let (remote, mut revision) = remote_manifest(&connection, app).await?;
    let changes = batch_changes(&tree.files, &remote);
    let change_count = changes.len();
    if change_count == 0 {
        println!("{app}: {} files, all already saved", tree.files.len());
    } else {
        let written = save_batch(&connection, app, changes).await?;
        revision = written.revision;
        println!("{app}: saved {change_count} changes, revision {revision}");
    }

    let path = format!("/v1/apps/{app}/provision-preview");
    let preview: PreviewResponse = connection
        .call(connection.request(Method::POST, &path))
        .await?;
    println!("{app}: preview {}", preview.state);
    match preview.url {
        Some(url) => println!("open {url}"),
        None => bail!("the provisioner returned no preview URL: {preview:?}"),
    }
    if args.watch {
        super::watch::watch(connection, app.clone(), dir, tree.hashes(), revision).await?;
    }
    Ok(())
}

/// `--git URL[#ref]`: the provisioner imports the repository and boots the
/// preview; each step is printed with its log line.
async fn push_git(connection: &Connection, args: &PushArgs, source: &str) -> anyhow::Result<()> {
    let app = args.app.as_str();
    let (url, reference) = match source.split_once('#') {
        Some((url, reference)) => (url, Some(reference)),
        None => (source, None),
    };
    let body = json!({
        "git": { "url": url, "ref": reference, "subdir": args.git_subdir },
        "token": args.git_token,
    });
    let request = connection
        .request(Method::POST, &format!("/v1/apps/{app}/import"))
        .json(&body);
    let imported: Imported = connection.call(request).await?;
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

/// Path → sha256 of what the provisioner holds now, and its revision (an
/// app it does not know holds nothing, at revision 0).
async fn remote_manifest(
    connection: &Connection,
    app: &AppId,
) -> anyhow::Result<(BTreeMap<String, String>, u64)> {
    let request = connection.request(Method::GET, &format!("/v1/apps/{app}/files"));
    let manifest: ManifestResponse = match connection.call(request).await {
        Ok(manifest) => manifest,
        Err(error)
            if matches!(
                error.downcast_ref::<ClientError>(),
                Some(ClientError::Api { status: 404, .. })
            ) =>
        {
            return Ok((BTreeMap::new(), 0));
        }
        Err(error) => return Err(error),
    };
    let files = manifest
        .files
        .into_iter()
        .map(|entry| (entry.path.as_str().to_owned(), entry.sha256))
        .collect();
    Ok((files, manifest.revision))
}
