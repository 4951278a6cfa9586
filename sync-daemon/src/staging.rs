//! Where new content waits until the whole change set is downloaded and
//! verified, so the renames into the tree happen in one quick burst and a
//! dev server's watcher sees complete files only.
//!
//! The preferred place is `<state-dir>/staging`, outside the synced tree (so
//! no watcher sees half-written files) and on the same filesystem (so
//! `rename` works). When the state dir is on another filesystem, temp files
//! go beside their targets instead, named `.<name>.<n>.sync~`: the leading dot
//! and the trailing `~` are what chokidar and most route and CSS globs
//! ignore, and the name never ends in `.ts`, `.tsx` or `.css`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::CriticalError;
use crate::fsio;

#[derive(Debug)]
pub struct Staging {
    /// `None` when the state dir is on another filesystem than the tree.
    dir: Option<PathBuf>,
    counter: AtomicU64,
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
        fs::create_dir_all(&dir).map_err(|source| CriticalError::NotWritable {
            path: dir.clone(),
            source,
        })?;
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
                "state dir is on another filesystem than --dir; staging beside each target as .<name>.<n>.sync~"
            );
        }
        Ok(Staging {
            dir: same_device.then_some(dir),
            counter: AtomicU64::new(0),
        })
    }

    /// A fresh temporary path for content bound for `target`. In the
    /// fallback mode the target's parent must exist before this is written.
    pub fn temporary_for(&self, target: &Path) -> PathBuf {
        let number = self.counter.fetch_add(1, Ordering::Relaxed);
        match &self.dir {
            Some(dir) => dir.join(number.to_string()),
            None => {
                let name = target
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                target.with_file_name(format!(".{name}.{number}.sync~"))
            }
        }
    }

    /// Whether temp files sit beside their targets (so parents are needed first).
    pub fn beside_targets(&self) -> bool {
        self.dir.is_none()
    }
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
    fn fallback_names_are_hidden_and_never_look_like_sources() {
        let staging = Staging {
            dir: None,
            counter: AtomicU64::new(7),
        };
        let temporary = staging.temporary_for(Path::new("/app/src/App.tsx"));
        assert_eq!(temporary, Path::new("/app/src/.App.tsx.7.sync~"));
        for target in ["/a/x.ts", "/a/y.css", "/a/z"] {
            let name = staging
                .temporary_for(Path::new(target))
                .file_name()
                .unwrap()
                .to_owned();
            let name = name.to_string_lossy();
            assert!(name.starts_with('.') && name.ends_with('~'), "{name}");
        }
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
