//! Seeing a file arrive: inotify (through `notify`) on the directories the
//! daemon renames into, plus a slow safety tick, then a read that compares
//! the whole content. The time taken is the moment the exact new content
//! was read.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// A re-check when no event came, in case one was lost.
const SAFETY_TICK: Duration = Duration::from_millis(20);

pub struct DirWatch {
    _watcher: RecommendedWatcher,
    events: UnboundedReceiver<()>,
}

impl DirWatch {
    pub fn new(directories: &[&Path]) -> anyhow::Result<DirWatch> {
        let (sender, events) = unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |_event: notify::Result<notify::Event>| {
                let _ = sender.send(());
            })?;
        for directory in directories {
            watcher.watch(directory, RecursiveMode::NonRecursive)?;
        }
        Ok(DirWatch {
            _watcher: watcher,
            events,
        })
    }

    /// Waits for the next event or the safety tick, whichever comes first,
    /// and swallows events already queued.
    pub async fn settle(&mut self) {
        tokio::select! {
            _ = self.events.recv() => {}
            () = tokio::time::sleep(SAFETY_TICK) => {}
        }
        while self.events.try_recv().is_ok() {}
    }

    /// The moment `path` is seen holding exactly `expected`.
    pub async fn wait_for(
        &mut self,
        path: &Path,
        expected: &[u8],
        limit: Duration,
    ) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if holds(path, expected) {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not get its new content within {limit:?}",
                    path.display()
                );
            }
            self.settle().await;
        }
    }
}

pub fn holds(path: &Path, expected: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|content| content == expected)
}
