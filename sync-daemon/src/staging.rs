//! Where new content waits until the whole change set is downloaded and
//! verified, so the renames into the tree happen in one quick burst and a
//! dev server's watcher sees complete files only.
//!
//! The preferred place is `<state-dir>/staging`, outside the synced tree (so
//! no watcher sees half-written files) and on the same filesystem (so
//! `rename` works). When the state dir is on another filesystem, temp files
//! go beside their targets instead, named `.<name>.<random>.sync~`: the
//! leading dot and the trailing `~` are what chokidar and most route and CSS
//! globs ignore, and the name never ends in `.ts`, `.tsx` or `.css`.
//!
//! The tree is writable by the app's own code, so a temporary name there
//! must not be guessable (64 random bits), and every temporary is created
//! with `O_CREAT | O_EXCL | O_NOFOLLOW` ([`fsio::create_new`]): a symlink
//! planted at the name is refused, never written through.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::CriticalError;
use crate::fsio;
use crate::graft::Graft;

/// The directories staging spreads its files over: every create and every
/// rename out of a directory takes that directory's lock, and the download's
/// writer threads all waiting on one directory's lock was the largest wait
/// of an initial sync (perf: `rwsem_down_write_slowpath` under `openat`).
const SHARDS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f",
];

#[derive(Debug)]
pub struct Staging {
    /// `None` when the state dir is on another filesystem than the tree.
    dir: Option<PathBuf>,
}

impl Staging {
    /// Prepares `<state_dir>/staging`, emptying what a crash left there, and
    /// picks the mode by comparing devices.
    pub fn prepare(root: &Path, state_dir: &Path) -> Result<Staging, CriticalError> {
        let dir = state_dir.join("staging");
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|source| CriticalError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        for shard in SHARDS {
            let shard = dir.join(shard);
            fs::create_dir_all(&shard).map_err(|source| CriticalError::NotWritable {
                path: shard.clone(),
                source,
            })?;
        }
        let device = |path: &Path| {
            fsio::device_of(path).map_err(|source| CriticalError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let same_device = device(root)? == device(&dir)?;
        if !same_device {
            tracing::warn!(
                state_dir = %state_dir.display(),
                "state dir is on another filesystem than --dir; staging beside each target as .<name>.<random>.sync~"
            );
        }
        Ok(Staging {
            dir: same_device.then_some(dir),
        })
    }

    /// A fresh, unguessable temporary path for content bound for `target`.
    /// In the fallback mode the target's parent must exist before this is written.
    pub fn temporary_for(&self, target: &Path) -> PathBuf {
        let random = fsio::unpredictable_name();
        match &self.dir {
            // The name's first hex digit picks one of 16 directories.
            Some(dir) => dir.join(&random[..1]).join(random),
            None => {
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                // A name of 255 bytes leaves no room for the suffix: keep its end.
                let name = tail_of(&name, 255 - ".".len() - random.len() - ".sync~".len() - 1);
                target.with_file_name(format!(".{name}.{random}.sync~"))
            }
        }
    }

    /// A graft for one cycle, staged in a directory of its own here (made
    /// on first need); none when staging is beside the targets, on the
    /// tree's own filesystem.
    pub fn graft(&self, root: &Path) -> Option<Graft> {
        let dir = self.dir.as_ref()?;
        let name = format!("graft-{}", fsio::unpredictable_name());
        Some(Graft::new(root, dir.join(name)))
    }

    /// Whether temp files sit beside their targets (so parents are needed first).
    pub fn beside_targets(&self) -> bool {
        self.dir.is_none()
    }
}

/// At most `max_bytes` of the end of `name`, cut on a character boundary.
fn tail_of(name: &str, max_bytes: usize) -> &str {
    let mut start = name.len().saturating_sub(max_bytes);
    while !name.is_char_boundary(start) {
        start += 1;
    }
    &name[start..]
}

/// Temporary files of one cycle; whatever was not renamed into place is
/// removed when the cycle ends, successfully or not.
#[derive(Debug, Default)]
pub struct Staged {
    paths: Vec<PathBuf>,
}

impl Staged {
    pub fn push(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    /// After a burst: only `leftovers` were not renamed away, so only they
    /// need removing (an `unlink` per renamed file was a tenth of a large
    /// sync's system calls).
    pub fn left_over(&mut self, leftovers: Vec<PathBuf>) {
        self.paths = leftovers;
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for path in &self.paths {
            // Most were renamed away already; NotFound is the normal case.
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_in_the_state_dir_on_the_same_filesystem() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("app");
        let state = base.path().join(".app.sync");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(state.join("staging")).unwrap();
        fs::write(state.join("staging/leftover"), b"crash").unwrap();

        let staging = Staging::prepare(&root, &state).unwrap();
        assert!(!staging.beside_targets());
        assert!(
            !state.join("staging/leftover").exists(),
            "leftovers are cleared"
        );
        let temporary = staging.temporary_for(&root.join("src/App.tsx"));
        assert!(temporary.starts_with(state.join("staging")));
    }

    #[test]
    fn fallback_names_are_hidden_unguessable_and_never_look_like_sources() {
        let staging = Staging { dir: None };
        let temporary = staging.temporary_for(Path::new("/app/src/App.tsx"));
        let name = temporary
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let random = name
            .strip_prefix(".App.tsx.")
            .and_then(|rest| rest.strip_suffix(".sync~"))
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            random.len() == 16 && random.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        assert_eq!(temporary.parent(), Some(Path::new("/app/src")));
        assert_ne!(
            staging.temporary_for(Path::new("/app/src/App.tsx")),
            temporary
        );
        for target in ["/a/x.ts", "/a/y.css", "/a/z"] {
            let name = staging
                .temporary_for(Path::new(target))
                .file_name()
                .unwrap()
                .to_owned();
            let name = name.to_string_lossy();
            assert!(name.starts_with('.') && name.ends_with('~'), "{name}");
        }
        let longest = format!("/a/{}", "é".repeat(127));
        let name = staging.temporary_for(Path::new(&longest));
        assert!(name.file_name().unwrap().len() <= 255, "{name:?}");
    }

    #[test]
    fn unrenamed_temporaries_are_removed() {
        let base = tempfile::tempdir().unwrap();
        let leftover = base.path().join("t");
        fs::write(&leftover, b"x").unwrap();
        let mut staged = Staged::default();
        staged.push(leftover.clone());
        staged.push(base.path().join("already-renamed"));
        drop(staged);
        assert!(!leftover.exists());

        let kept = base.path().join("renamed-away-then-made-again");
        let refused = base.path().join("refused");
        fs::write(&kept, b"x").unwrap();
        fs::write(&refused, b"x").unwrap();
        let mut staged = Staged::default();
        staged.push(kept.clone());
        staged.push(refused.clone());
        staged.left_over(vec![refused.clone()]);
        drop(staged);
        assert!(kept.exists() && !refused.exists());
    }
}
