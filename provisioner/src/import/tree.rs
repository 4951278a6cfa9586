//! Which files of a repository become an app's files, and the batch that
//! turns what the app holds into them. Pure, so the rules are tested as
//! tables; `push` builds its batch with the same function.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use sync_protocol::{BatchChange, FilePath, sha256_hex};

/// Directories never imported: what installs and builds make, and git's own.
const NEVER_IMPORTED: &[&str] = &["node_modules", ".git"];

/// The app path of a repository path, or `None` when it is not imported:
/// outside `subdir`, inside a directory never imported, or not a path the
/// files API accepts.
pub fn app_path(repository_path: &str, subdir: Option<&str>) -> Option<String> {
    let relative = match subdir {
        Some(subdir) => repository_path.strip_prefix(subdir)?.strip_prefix('/')?,
        None => repository_path,
    };
    if relative
        .split('/')
        .any(|segment| NEVER_IMPORTED.contains(&segment))
    {
        return None;
    }
    FilePath::parse(relative).ok().map(|_| relative.to_owned())
}

/// The changes that make an app holding `current` (path → sha256) hold
/// exactly `wanted`: new and changed files, and deletes of the rest. Empty
/// when nothing differs.
pub fn batch_changes(
    wanted: &BTreeMap<String, Vec<u8>>,
    current: &BTreeMap<String, String>,
) -> Vec<BatchChange> {
    let mut changes = Vec::new();
    for (path, content) in wanted {
        if current.get(path) == Some(&sha256_hex(content)) {
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
    let wanted_paths: BTreeSet<&String> = wanted.keys().collect();
    for path in current.keys().filter(|path| !wanted_paths.contains(path)) {
        changes.push(BatchChange {
            path: path.clone(),
            delete: Some(true),
            ..BatchChange::default()
        });
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths_map_to_app_paths_or_are_left_out() {
        let cases = [
            ("index.html", None, Some("index.html")),
            ("src/main.js", None, Some("src/main.js")),
            ("node_modules/x/index.js", None, None),
            ("packages/web/node_modules/x.js", Some("packages/web"), None),
            (".git/config", None, None),
            (
                "packages/web/index.html",
                Some("packages/web"),
                Some("index.html"),
            ),
            ("packages/webby/index.html", Some("packages/web"), None),
            ("README.md", Some("packages/web"), None),
        ];
        for (path, subdir, expected) in cases {
            assert_eq!(
                app_path(path, subdir).as_deref(),
                expected,
                "{path} in {subdir:?}"
            );
        }
    }

    #[test]
    fn the_batch_holds_only_what_differs() {
        let wanted = BTreeMap::from([
            ("same.txt".to_owned(), b"same".to_vec()),
            ("changed.txt".to_owned(), b"new".to_vec()),
            ("added.bin".to_owned(), vec![0xff, 0x00]),
        ]);
        let current = BTreeMap::from([
            ("same.txt".to_owned(), sha256_hex(b"same")),
            ("changed.txt".to_owned(), sha256_hex(b"old")),
            ("gone.txt".to_owned(), sha256_hex(b"gone")),
        ]);
        let changes = batch_changes(&wanted, &current);
        let summary: Vec<(&str, bool, bool, bool)> = changes
            .iter()
            .map(|change| {
                (
                    change.path.as_str(),
                    change.content.is_some(),
                    change.content_base64.is_some(),
                    change.delete == Some(true),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("added.bin", false, true, false),
                ("changed.txt", true, false, false),
                ("gone.txt", false, false, true),
            ]
        );
        assert!(
            batch_changes(
                &wanted,
                &BTreeMap::from([
                    ("same.txt".to_owned(), sha256_hex(b"same")),
                    ("changed.txt".to_owned(), sha256_hex(b"new")),
                    ("added.bin".to_owned(), sha256_hex(&[0xff, 0x00])),
                ])
            )
            .is_empty()
        );
    }
}
