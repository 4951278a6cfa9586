//! When the supervisor restarts the dev server by itself, decided as pure
//! functions: a change to a file dev servers read only at start (`.env*`,
//! framework configs, `tsconfig.json`), and when to stop retrying a dev
//! server that keeps crashing.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sync_protocol::controls::ControlKind;

use super::Context;

/// A dev server that crashed this many times in a row, each after running
/// less than [`STABLE_RUN`](super::STABLE_RUN), is not started again until
/// the next change of the app's files or an operator's restart.
pub const MAX_CRASHES: u32 = 3;

/// What a rebuild removes before installing again: the dependencies and
/// the frameworks' caches, relative to the app's directory.
pub const REBUILD_REMOVES: &[&str] = &["node_modules/.vite", "node_modules", ".next", ".vite"];

/// Carries out an operator's control once the dev server is stopped: a
/// restart needs nothing more; a rebuild removes [`REBUILD_REMOVES`] and the
/// install record, so the next start installs from nothing. Each step is
/// said in the log.
pub(super) fn carry_out(context: &Context, kind: ControlKind) {
    match kind {
        ControlKind::Restart => context.note("restart asked: starting the dev server again"),
        ControlKind::Rebuild => {
            context.note("rebuild asked: removing the dependencies and the frameworks' caches");
            for name in REBUILD_REMOVES {
                let path = context.dir.join(name);
                // Never followed: a link planted in the tree is removed, not its target.
                let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                let removed = if metadata.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                match removed {
                    Ok(()) => context.note(&format!("removed {name}")),
                    Err(error) => context.warn(&format!("cannot remove {name}: {error}")),
                }
            }
            super::install::forget_install(&context.state_dir);
        }
    }
}

/// Name prefixes of top-level files a dev server reads only when it starts.
const RESTART_PREFIXES: &[&str] = &[
    ".env",
    "vite.config.",
    "next.config.",
    "svelte.config.",
    "astro.config.",
    "nuxt.config.",
    "remix.config.",
    "tsconfig.",
    "jsconfig.",
];

/// Whether a change to the top-level file `name` restarts the dev server.
pub fn restarts_dev_server(name: &str) -> bool {
    RESTART_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// A digest of the top-level files that restart the dev server: a
/// different digest after a revision means one of them changed.
pub fn restart_inputs(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|name| restarts_dev_server(name))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        let content = std::fs::read(dir.join(&name)).unwrap_or_default();
        hasher.update(name.as_bytes());
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(&content);
    }
    hex::encode(hasher.finalize())
}

/// What to do once the dev server exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    /// Start it again after the backoff.
    Retry,
    /// Leave it stopped until a change or a restart.
    GiveUp,
}

/// `crashes`: the exits in a row so far, this one included, of runs
/// shorter than `stable` (a longer run starts the count over).
pub fn after_exit(crashes: u32, ran_for: Duration, stable: Duration) -> (u32, AfterExit) {
    let crashes = if ran_for >= stable { 1 } else { crashes };
    let decision = if crashes >= MAX_CRASHES {
        AfterExit::GiveUp
    } else {
        AfterExit::Retry
    };
    (crashes, decision)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_read_only_at_start_restart_the_dev_server() {
        let cases = [
            (".env", true),
            (".env.local", true),
            (".env.development", true),
            ("vite.config.ts", true),
            ("vite.config.mjs", true),
            ("next.config.js", true),
            ("next.config.ts", true),
            ("tsconfig.json", true),
            ("tsconfig.app.json", true),
            ("svelte.config.js", true),
            ("index.html", false),
            ("package.json", false),
            ("environment.ts", false),
            ("vite-env.d.ts", false),
            ("src", false),
        ];
        for (name, expected) in cases {
            assert_eq!(restarts_dev_server(name), expected, "{name}");
        }
    }

    #[test]
    fn a_dev_server_stops_being_restarted_after_max_crashes_in_a_row() {
        let stable = Duration::from_secs(60);
        let short = Duration::from_secs(1);
        let cases = [
            (1, short, (1, AfterExit::Retry)),
            (MAX_CRASHES - 1, short, (MAX_CRASHES - 1, AfterExit::Retry)),
            (MAX_CRASHES, short, (MAX_CRASHES, AfterExit::GiveUp)),
            (MAX_CRASHES, stable, (1, AfterExit::Retry)),
            (
                MAX_CRASHES + 3,
                Duration::from_secs(59),
                (MAX_CRASHES + 3, AfterExit::GiveUp),
            ),
        ];
        for (crashes, ran_for, expected) in cases {
            assert_eq!(
                after_exit(crashes, ran_for, stable),
                expected,
                "{crashes} {ran_for:?}"
            );
        }
    }

    #[test]
    fn the_restart_digest_follows_config_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let empty = restart_inputs(dir.path());
        std::fs::write(dir.path().join("index.html"), "x").unwrap();
        assert_eq!(restart_inputs(dir.path()), empty);
        std::fs::write(dir.path().join(".env"), "A=1").unwrap();
        let with_env = restart_inputs(dir.path());
        assert_ne!(with_env, empty);
        std::fs::write(dir.path().join(".env"), "A=2").unwrap();
        assert_ne!(restart_inputs(dir.path()), with_env);
    }
}
