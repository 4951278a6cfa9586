//! What kind of web project a tree is: decided from its file names and its
//! `package.json` alone, so it is a pure function tested as a table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What the import found out about the project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Project {
    /// `vite`, `next`, `static`, or `node` (a package.json with neither).
    pub project_type: String,
    /// `npm`, `pnpm`, `yarn` or `bun`, from the lock file (npm without one).
    pub package_manager: Option<String>,
    /// The `scripts` of package.json.
    pub scripts: BTreeMap<String, String>,
}

/// `None` when the root holds neither `package.json` nor `index.html`.
pub fn detect(paths: &[&str], package_json: Option<&[u8]>) -> Option<Project> {
    let has = |name: &str| paths.contains(&name);
    let Some(package_json) = package_json else {
        return has("index.html").then(|| Project {
            project_type: "static".to_owned(),
            ..Project::default()
        });
    };
    let manifest: serde_json::Value = serde_json::from_slice(package_json).unwrap_or_default();
    let depends_on = |name: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|section| manifest[section].get(name).is_some())
    };
    let project_type = if depends_on("next") {
        "next"
    } else if depends_on("vite") || paths.iter().any(|path| path.starts_with("vite.config.")) {
        "vite"
    } else {
        "node"
    };
    let package_manager = if has("pnpm-lock.yaml") {
        "pnpm"
    } else if has("yarn.lock") {
        "yarn"
    } else if has("bun.lockb") || has("bun.lock") {
        "bun"
    } else {
        "npm"
    };
    let scripts = manifest["scripts"]
        .as_object()
        .map(|scripts| {
            scripts
                .iter()
                .filter_map(|(name, command)| Some((name.clone(), command.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    Some(Project {
        project_type: project_type.to_owned(),
        package_manager: Some(package_manager.to_owned()),
        scripts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_is_detected_by_its_manifest_and_lock_file() {
        let vite = br#"{"scripts":{"dev":"vite"},"devDependencies":{"vite":"^5"}}"#;
        let next = br#"{"scripts":{"dev":"next dev"},"dependencies":{"next":"14"}}"#;
        let plain = br#"{"scripts":{"start":"node server.js"}}"#;
        struct Case {
            paths: &'static [&'static str],
            manifest: Option<&'static [u8]>,
            expected: Option<(&'static str, Option<&'static str>)>,
        }
        let cases = [
            Case {
                paths: &["package.json", "package-lock.json"],
                manifest: Some(vite),
                expected: Some(("vite", Some("npm"))),
            },
            Case {
                paths: &["package.json", "pnpm-lock.yaml"],
                manifest: Some(next),
                expected: Some(("next", Some("pnpm"))),
            },
            Case {
                paths: &["package.json", "yarn.lock"],
                manifest: Some(plain),
                expected: Some(("node", Some("yarn"))),
            },
            Case {
                paths: &["package.json", "vite.config.ts"],
                manifest: Some(b"{}"),
                expected: Some(("vite", Some("npm"))),
            },
            Case {
                paths: &["index.html", "style.css"],
                manifest: None,
                expected: Some(("static", None)),
            },
            Case {
                paths: &["README.md", "src/main.rs"],
                manifest: None,
                expected: None,
            },
        ];
        for case in cases {
            let found = detect(case.paths, case.manifest);
            let found = found.as_ref().map(|project| {
                (
                    project.project_type.as_str(),
                    project.package_manager.as_deref(),
                )
            });
            assert_eq!(found, case.expected, "{:?}", case.paths);
        }
    }

    #[test]
    fn the_scripts_of_package_json_are_kept() {
        let project = detect(
            &["package.json"],
            Some(br#"{"scripts":{"dev":"vite","build":"vite build"}}"#),
        )
        .unwrap();
        assert_eq!(project.scripts["dev"], "vite");
        assert_eq!(project.scripts["build"], "vite build");
    }
}
