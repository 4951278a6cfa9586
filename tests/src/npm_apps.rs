//! Real apps taken from the npm registry at test time, never written here:
//! the templates `create-vite` carries (`template-react`, `template-vue`,
//! ...) and Next's app-router template from `create-next-app`, with the
//! `package.json` its CLI would write. Each package tarball is fetched once
//! per test run (`npm pack`, keyed by nextest's run id) and unpacked under
//! `target/npm-packs/`; installs share one package cache,
//! `target/test-package-cache`, which the local driver hands every preview.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Unpacked tarballs of earlier runs older than this are removed.
const STALE_RUN: Duration = Duration::from_secs(6 * 3600);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// The package cache the tests' previews share (`--local-package-cache`).
pub fn shared_package_cache() -> anyhow::Result<PathBuf> {
    let dir = workspace_root().join("target/test-package-cache");
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("failed to create `{}`", dir.display()))?;
    Ok(dir)
}

/// The unpacked `package/` directory of the registry's latest `name`,
/// fetched at most once per test run.
pub fn fetch_package(name: &str) -> anyhow::Result<PathBuf> {
    let run = std::env::var("NEXTEST_RUN_ID")
        .unwrap_or_else(|_| format!("process-{}", std::process::id()));
    let packs = workspace_root().join("target/npm-packs");
    remove_stale_runs(&packs, &run);
    let unpacked = packs.join(&run).join(name);
    if unpacked.join("package/package.json").is_file() {
        return Ok(unpacked.join("package"));
    }
    let scratch = packs.join(&run).join(format!(
        ".{name}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("failed to create `{}`", scratch.display()))?;
    let packed = Command::new("npm")
        .args(["pack", name, "--silent", "--pack-destination"])
        .arg(&scratch)
        .env("npm_config_cache", shared_package_cache()?.join("npm"))
        .output()
        .context("failed to run `npm pack` (is npm installed?)")?;
    if !packed.status.success() {
        bail!(
            "`npm pack {name}` failed: {}",
            String::from_utf8_lossy(&packed.stderr)
        );
    }
    let tarball = String::from_utf8_lossy(&packed.stdout)
        .lines()
        .last()
        .context("`npm pack` printed no file name")?
        .trim()
        .to_owned();
    let status = Command::new("tar")
        .arg("xzf")
        .arg(scratch.join(&tarball))
        .arg("-C")
        .arg(&scratch)
        .status()
        .context("failed to run tar")?;
    anyhow::ensure!(status.success(), "unpacking {tarball} failed");
    // Another test of this run may have won the race; either copy is whole.
    if std::fs::rename(&scratch, &unpacked).is_err() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    Ok(unpacked.join("package"))
}

fn remove_stale_runs(packs: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(packs) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_RUN);
        if stale && entry.file_name() != current {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What `npm create vite -- --template <name>` produces: the template
/// directory with `_gitignore` renamed, and the package named after the app.
pub fn vite_app(template: &str, app: &str) -> anyhow::Result<TempDir> {
    let source = fetch_package("create-vite")?.join(format!("template-{template}"));
    let project = tempfile::tempdir().context("failed to create a project dir")?;
    copy_tree(&source, project.path())?;
    rename_if_present(project.path(), "_gitignore", ".gitignore")?;
    rename_package(project.path(), app)?;
    Ok(project)
}

/// What `npx create-next-app --js --app --no-tailwind --eslint=false`
/// produces: the `app/js` template and the `package.json` its CLI writes
/// (next at the CLI's own version, react and react-dom at the version it
/// pins).
pub fn next_app(app: &str) -> anyhow::Result<TempDir> {
    let package = fetch_package("create-next-app")?;
    let source = package.join("dist/templates/app/js");
    let project = tempfile::tempdir().context("failed to create a project dir")?;
    copy_tree(&source, project.path())?;
    rename_if_present(project.path(), "gitignore", ".gitignore")?;
    rename_if_present(project.path(), "README-template.md", "README.md")?;
    let _ = std::fs::remove_file(project.path().join("biome.json"));
    let _ = std::fs::remove_file(project.path().join("eslint.config.mjs"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(package.join("package.json"))?)?;
    let next = manifest["version"]
        .as_str()
        .context("create-next-app has no version")?;
    let cli = std::fs::read_to_string(package.join("dist/index.js"))?;
    let react = pinned_react(&cli).unwrap_or_else(|| "latest".to_owned());
    let written = json!({
        "name": app,
        "version": "0.1.0",
        "private": true,
        "scripts": { "dev": "next dev", "build": "next build", "start": "next start" },
        "dependencies": { "react": react, "react-dom": react, "next": next },
    });
    std::fs::write(
        project.path().join("package.json"),
        serde_json::to_string_pretty(&written)? + "\n",
    )?;
    Ok(project)
}

/// The React version create-next-app's bundled CLI pins: it writes
/// `dependencies:{react:X,"react-dom":X,...}` with `X="19.…"` defined nearby.
fn pinned_react(cli: &str) -> Option<String> {
    let after = cli.split("dependencies:{react:").nth(1)?;
    let variable: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
        .collect();
    let definition = format!("{variable}=\"");
    let start = cli
        .match_indices(&definition)
        .map(|(index, _)| index)
        .find(|index| *index == 0 || !cli.as_bytes()[index - 1].is_ascii_alphanumeric())?
        + definition.len();
    let version: String = cli[start..].chars().take_while(|c| *c != '"').collect();
    version
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        .then_some(version)
}

fn rename_package(dir: &Path, app: &str) -> anyhow::Result<()> {
    let path = dir.join("package.json");
    let mut manifest: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    manifest["name"] = json!(app);
    std::fs::write(&path, serde_json::to_string_pretty(&manifest)? + "\n")?;
    Ok(())
}

fn rename_if_present(dir: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    if dir.join(from).exists() {
        std::fs::rename(dir.join(from), dir.join(to))
            .with_context(|| format!("failed to rename {from}"))?;
    }
    Ok(())
}

/// Copies a directory tree (files and directories, as a checkout holds them).
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("failed to list `{}`", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("failed to copy `{}`", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pinned_react;

    #[test]
    fn the_react_pin_is_read_from_the_bundled_cli() {
        let cli = r#"const xen=1;const en="19.3.0";const A={dependencies:{react:en,"react-dom":en,next:v}}"#;
        assert_eq!(pinned_react(cli).as_deref(), Some("19.3.0"));
        assert_eq!(pinned_react("dependencies:{react:x}"), None);
    }
}
