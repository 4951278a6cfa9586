//! Learns of local edits to synced files, so the index never trusts a stale
//! stamp and the daemon can say which synced file someone changed.
//!
//! Only the directories that hold synced files are watched, one by one and
//! non-recursively: a recursive watch would also cover `node_modules/`, whose
//! thousands of directories exhaust inotify watches (next.js#51730). The
//! watcher is a help, not a foundation: every cycle still compares stamps of
//! the paths it touches, so a lost event costs a re-hash, never a wrong file.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use sync_protocol::FilePath;
use tokio::sync::Notify;

use crate::index::Index;

pub struct LocalWatcher {
    watcher: Option<RecommendedWatcher>,
    /// Watched directory → its inode when the watch was set: a directory
    /// deleted and made again needs a new watch.
    watched: HashMap<PathBuf, u64>,
    touched: Arc<Mutex<HashSet<PathBuf>>>,
    /// Woken whenever `touched` gains paths.
    pub changed: Arc<Notify>,
}

impl LocalWatcher {
    /// A watcher that watches nothing: `--once` exits before an edit could
    /// matter, and 1,000 watches set and dropped cost more than its cycle.
    pub fn off() -> LocalWatcher {
        LocalWatcher {
            watcher: None,
            watched: HashMap::new(),
            touched: Arc::default(),
            changed: Arc::new(Notify::new()),
        }
    }

    pub fn is_on(&self) -> bool {
        self.watcher.is_some()
    }

    pub fn new() -> LocalWatcher {
        let touched: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let handler = {
            let touched = Arc::clone(&touched);
            let changed = Arc::clone(&changed);
            move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                touched
                    .lock()
                    .expect("touched set lock")
                    .extend(event.paths);
                changed.notify_one();
            }
        };
        let watcher = notify::recommended_watcher(handler)
            .inspect_err(|error| tracing::warn!(%error, "no file watcher; local edits are found by stamps only"))
            .ok();
        LocalWatcher {
            watcher,
            watched: HashMap::new(),
            touched,
            changed,
        }
    }

    /// Watches every directory that holds a synced file and is not watched
    /// yet (or was re-created since).
    pub fn cover(&mut self, root: &Path, index: &Index) {
        self.cover_paths(root, index.files.keys());
    }

    /// Like [`LocalWatcher::cover`] for the directories of `paths` only (a
    /// delta cycle's files): the rest were covered by earlier cycles.
    pub fn cover_paths<'a>(&mut self, root: &Path, paths: impl Iterator<Item = &'a FilePath>) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let directories: HashSet<PathBuf> = paths
            .filter_map(|path| root.join(path.as_str()).parent().map(Path::to_path_buf))
            .collect();
        for directory in directories {
            let Ok(inode) = std::fs::symlink_metadata(&directory).map(|m| m.ino()) else {
                continue;
            };
            match self.watched.get(&directory) {
                Some(known) if *known == inode => continue,
                Some(_) => drop(watcher.unwatch(&directory)),
                None => {}
            }
            match watcher.watch(&directory, RecursiveMode::NonRecursive) {
                Ok(()) => drop(self.watched.insert(directory, inode)),
                Err(error) => {
                    tracing::warn!(directory = %directory.display(), %error, "cannot watch")
                }
            }
        }
    }

    /// Paths with events since the last call.
    pub fn take_touched(&self) -> Vec<PathBuf> {
        self.touched
            .lock()
            .expect("touched set lock")
            .drain()
            .collect()
    }
}

impl Default for LocalWatcher {
    fn default() -> Self {
        LocalWatcher::new()
    }
}

/// Marks dirty every touched synced file whose stamp moved, and says so.
pub fn invalidate(root: &Path, index: &mut Index, touched: Vec<PathBuf>) {
    for absolute in touched {
        let Ok(relative) = absolute.strip_prefix(root) else {
            continue;
        };
        let Some(text) = relative.to_str() else {
            continue;
        };
        let Ok(path) = FilePath::parse(text) else {
            continue;
        };
        if index.invalidate_if_changed(&path, &absolute) {
            tracing::warn!(%path, "synced file changed locally; the server's content returns when it next changes");
        }
    }
}
