//! `provisioner push --watch DIR`: after the initial push, keeps the app's
//! files equal to DIR as it is edited. Each directory of the tree (not
//! `node_modules/` and the other skipped ones) is watched on its own, non
//! recursively, as the daemon does; a burst of events ends after
//! [`QUIET`] without one (or [`LONGEST_BURST`]), and then the tree is read
//! again and what differs from what was last saved goes up as one batch:
//! one revision per burst, deletes included, nothing when nothing differs.
//! The watcher only says when to look, so a lost event costs nothing once
//! the next one arrives.
//!
//! What became of each revision is read from the preview's event stream
//! (`GET .../preview/events`, its `render` events), not from `?wait=rendered`,
//! so a slow page never holds back the next save.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use sync_protocol::AppId;
use sync_protocol::render::RenderReport;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::connection::{ClientError, Connection};
use super::output::{RenderLines, revision_line};
use super::sse;
use super::tree::read_tree;
use super::upload::save_batch;
use crate::import::tree::batch_changes;

/// A burst ends after this long without an event.
const QUIET: Duration = Duration::from_millis(100);
/// A burst that never goes quiet (a build writing into the tree) is cut here.
const LONGEST_BURST: Duration = Duration::from_secs(2);
/// A save that could not reach the provisioner is tried again after this.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Runs until SIGINT or SIGTERM. `saved` is what the provisioner holds (path
/// → sha256) and `revision` its revision, after the initial push.
pub async fn watch(
    connection: Connection,
    app: AppId,
    root: &Path,
    mut saved: BTreeMap<String, String>,
    revision: u64,
) -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut watcher = TreeWatcher::new()?;
    watcher.cover(&read_tree(root)?.directories);
    let renders = tokio::spawn(print_renders(connection.clone(), app.clone(), revision));
    println!("{app}: watching {} (Ctrl-C to stop)", root.display());
    let mut retry = false;
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            () = watcher.next_burst() => {}
            () = tokio::time::sleep(RETRY_AFTER), if retry => {}
        }
        retry = false;
        let tree = match read_tree(root) {
            Ok(tree) => tree,
            Err(error) => {
                eprintln!("{app}: {error:#}; nothing saved, waiting for the next change");
                continue;
            }
        };
        watcher.cover(&tree.directories);
        let changes = batch_changes(&tree.files, &saved);
        if changes.is_empty() {
            continue;
        }
        match save_batch(&connection, &app, changes.clone()).await {
            Ok(written) => {
                saved = tree.hashes();
                println!("{}", revision_line(written.revision, &changes));
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                // Unreachable: try again shortly. Refused: the next edit tries again.
                retry = matches!(
                    error.downcast_ref::<ClientError>(),
                    Some(ClientError::Unreachable { .. })
                );
            }
        }
    }
    renders.abort();
    println!("{app}: stopped watching");
    Ok(())
}

/// Prints each revision's render verdicts from the preview's event stream.
async fn print_renders(connection: Connection, app: AppId, since: u64) {
    let mut lines = RenderLines::new(since);
    let path = format!("/v1/apps/{app}/preview/events");
    let followed = sse::follow(&connection, &path, |event| {
        let report = match event.event.as_str() {
            "render" => serde_json::from_str::<RenderReport>(&event.data).ok(),
            _ => serde_json::from_str::<serde_json::Value>(&event.data)
                .ok()
                .and_then(|view| serde_json::from_value(view["render"].clone()).ok()),
        };
        if let Some(line) = report.as_ref().and_then(|report| lines.line(report)) {
            println!("{line}");
        }
    })
    .await;
    if let Err(error) = followed {
        eprintln!("{app}: not following the preview's render verdicts: {error:#}");
    }
}

/// Non-recursive watches on the tree's directories; counts events.
struct TreeWatcher {
    watcher: RecommendedWatcher,
    /// Watched directory → its inode when the watch was set.
    watched: HashMap<PathBuf, u64>,
    events: Arc<AtomicU64>,
    changed: Arc<Notify>,
}

impl TreeWatcher {
    fn new() -> anyhow::Result<TreeWatcher> {
        let events = Arc::new(AtomicU64::new(0));
        let changed = Arc::new(Notify::new());
        let handler = {
            let events = Arc::clone(&events);
            let changed = Arc::clone(&changed);
            move |event: notify::Result<notify::Event>| {
                if matches!(&event, Ok(event) if matches!(event.kind, EventKind::Access(_))) {
                    return;
                }
                events.fetch_add(1, Ordering::SeqCst);
                changed.notify_one();
            }
        };
        Ok(TreeWatcher {
            watcher: notify::recommended_watcher(handler)?,
            watched: HashMap::new(),
            events,
            changed,
        })
    }

    /// Watches `directories` from now on: new ones (or ones made again
    /// since, a new inode) are added, gone ones dropped.
    fn cover(&mut self, directories: &[PathBuf]) {
        let mut now = HashMap::new();
        for directory in directories {
            let Ok(inode) = std::fs::metadata(directory).map(|metadata| metadata.ino()) else {
                continue;
            };
            if self.watched.remove(directory) != Some(inode) {
                let _ = self.watcher.unwatch(directory);
                if let Err(error) = self.watcher.watch(directory, RecursiveMode::NonRecursive) {
                    eprintln!("cannot watch `{}`: {error}", directory.display());
                    continue;
                }
            }
            now.insert(directory.clone(), inode);
        }
        for gone in self.watched.keys() {
            let _ = self.watcher.unwatch(gone);
        }
        self.watched = now;
    }

    /// Returns once a burst of events has gone quiet.
    async fn next_burst(&self) {
        self.changed.notified().await;
        let started = Instant::now();
        loop {
            let seen = self.events.load(Ordering::SeqCst);
            tokio::time::sleep(QUIET).await;
            if self.events.load(Ordering::SeqCst) == seen || started.elapsed() >= LONGEST_BURST {
                return;
            }
        }
    }
}
