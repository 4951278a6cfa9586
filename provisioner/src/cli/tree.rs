//! A local directory as app files, for `push` and `push --watch`: every
//! regular file under it whose relative path the files API accepts, leaving
//! out what a preview makes itself or never needs (`node_modules/`, `.git/`,
//! build output) and editors' scratch files (`.swp`, `~` backups, `.#` locks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sync_protocol::FilePath;

/// Directories a local checkout holds that a preview makes itself, or never needs.
pub const SKIPPED_DIRS: &[&str] = &["node_modules", ".git", ".next", "dist", ".vite"];

/// What [`read_tree`] found.
#[derive(Debug, Default)]
pub struct LocalTree {
    /// Relative path → content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Every directory read (the root included): what a watcher covers.
    pub directories: Vec<PathBuf>,
    /// Files left out because the files API refuses their path.
    pub refused: Vec<PathBuf>,
}

impl LocalTree {
    /// Relative path → sha256, as a manifest lists them.
    pub fn hashes(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(path, content)| (path.clone(), sync_protocol::sha256_hex(content)))
            .collect()
    }
}

/// Reads every file under `root` that the files API accepts; refuses a tree with none.
pub fn read_tree(root: &Path) -> anyhow::Result<LocalTree> {
    let mut tree = LocalTree::default();
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("failed to list `{}`", dir.display()))?;
        tree.directories.push(dir.clone());
        for entry in entries {
            let entry = entry.with_context(|| format!("failed to list `{}`", dir.display()))?;
            let path = entry.path();
            let name = entry.file_name();
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                if !SKIPPED_DIRS.iter().any(|skipped| name == *skipped) {
                    pending.push(path);
                }
                continue;
            }
            if !file_type.is_file() || name.to_str().is_some_and(is_scratch) {
                continue;
            }
            let relative = path.strip_prefix(root)?.to_str().map(str::to_owned);
            let Some(relative) = relative.filter(|relative| FilePath::parse(relative).is_ok())
            else {
                tree.refused.push(path);
                continue;
            };
            match std::fs::read(&path) {
                Ok(content) => drop(tree.files.insert(relative, content)),
                // Removed between the listing and the read: an editor's save in progress.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("failed to read `{}`", path.display()));
                }
            }
        }
    }
    if tree.files.is_empty() {
        bail!("`{}` holds no files to push", root.display());
    }
    Ok(tree)
}

/// An editor's swap, backup or lock file, never part of an app.
fn is_scratch(name: &str) -> bool {
    name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with('~')
        || name.starts_with(".#")
        || name == ".DS_Store"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_its_files_without_skipped_dirs_or_scratch_files() {
        let root = tempfile::tempdir().unwrap();
        let write = |path: &str| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        };
        for path in [
            "package.json",
            "src/App.jsx",
            "src/.App.jsx.swp",
            "src/App.jsx~",
            "src/.#App.jsx",
            "node_modules/react/index.js",
            ".git/HEAD",
            "dist/index.html",
            "src/deep/er/file.css",
        ] {
            write(path);
        }

        let tree = read_tree(root.path()).unwrap();

        let paths: Vec<&str> = tree.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            ["package.json", "src/App.jsx", "src/deep/er/file.css"]
        );
        assert_eq!(tree.directories.len(), 4, "{:?}", tree.directories);
        assert_eq!(
            tree.hashes()["package.json"],
            sync_protocol::sha256_hex(b"x")
        );
    }

    #[test]
    fn an_empty_tree_is_refused() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("node_modules")).unwrap();

        let error = read_tree(root.path()).unwrap_err();

        assert!(error.to_string().contains("holds no files"), "{error}");
    }
}
