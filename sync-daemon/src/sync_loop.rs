//! The sync loop: ask for the manifest, apply it, report, repeat. What to
//! ask and how long to wait is decided by the [`Poller`]; this module only
//! wires it to the client, the cycle, the watcher and shutdown. Either way
//! an idle poll is a 304 and costs no disk access at all.

use std::future::Future;
use std::time::{Duration, Instant};

use sync_protocol::FilePath;
use tokio::sync::watch;

use crate::apply::{self, Outcome, Placing, Tree};
use crate::client::{Client, Manifest, Poll};
use crate::config::Config;
use crate::error::{CriticalError, Error, RuntimeError};
use crate::index::Index;
use crate::poller::{Next, ONCE_ATTEMPTS, Poller, Verdict};
use crate::staging::Staging;
use crate::status::StatusBoard;
use crate::watch::{self as local_watch, LocalWatcher};

/// At most one index save per this long while cycles keep applying.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Runs until shutdown (returns `Ok`), a critical error, or, with `--once`,
/// the first full converge. `applied` receives each revision put on disk.
pub async fn run(
    config: &Config,
    client: &Client,
    board: &StatusBoard,
    applied: &watch::Sender<Option<u64>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), CriticalError> {
    let mut waiting = Waiting {
        index: Index::load(&config.state_dir)?,
        watcher: if config.once {
            LocalWatcher::off()
        } else {
            LocalWatcher::new()
        },
        saver: Saver::default(),
        shutdown,
        config,
    };
    let result = sync(config, client, board, applied, &mut waiting).await;
    // Shutdown, `--once` or a critical error: keep what the last cycles did.
    if waiting.saver.unsaved {
        save_quietly(&mut waiting.index);
    }
    result
}

async fn sync(
    config: &Config,
    client: &Client,
    board: &StatusBoard,
    applied: &watch::Sender<Option<u64>>,
    waiting: &mut Waiting<'_>,
) -> Result<(), CriticalError> {
    let staging = Staging::prepare(&config.dir, &config.state_dir)?;
    waiting.watcher.cover(&config.dir, &waiting.index);
    let tree = Tree {
        root: &config.dir,
        state_dir: &config.state_dir,
        staging: &staging,
        client,
    };
    let mut poller = Poller::new(config.long_poll, config.interval, config.once);
    loop {
        let query = poller.query(waiting.index.revision);
        tracing::debug!(?query, "manifest request");
        let started = Instant::now();
        let Some(result) = waiting.during(client.manifest(&query)).await else {
            return Ok(());
        };
        let next = match result {
            Ok(Poll::Unchanged { store_id }) => {
                poller.unchanged(&query, started.elapsed(), store_id.as_deref())
            }
            Ok(Poll::Changed(manifest)) => {
                let previous = waiting.index.revision;
                match poller.manifest(&manifest, previous) {
                    Verdict::Resync { previous } => {
                        backwards(previous, &manifest);
                        continue;
                    }
                    Verdict::OtherStore => {
                        tracing::warn!(
                            revision = manifest.revision,
                            "the server answered from another store than our files came from; fetching its full manifest"
                        );
                        continue;
                    }
                    Verdict::Apply {
                        backwards: Some(previous),
                    } => backwards(previous, &manifest),
                    Verdict::Apply { backwards: None } => {}
                }
                let began = Instant::now();
                // The dev server starts after the first cycle applied.
                let placing = match *applied.borrow() {
                    None => Placing::AsTheyArrive,
                    Some(_) => Placing::InOneBurst,
                };
                match cycle(&tree, waiting, manifest, placing).await {
                    Ok(outcome) => {
                        // Refused paths hold the reported revision back.
                        board.record_cycle(&outcome, began);
                        applied.send_replace(Some(outcome.revision));
                        poller.applied(started.elapsed())
                    }
                    Err(error) => {
                        save_quietly(&mut waiting.index);
                        waiting.saver.unsaved = false;
                        let error = runtime(error)?;
                        retrying(&error, poller.failed(None, None))?
                    }
                }
            }
            Err(error) => {
                let error = runtime(error)?;
                let status = match &error {
                    RuntimeError::Status { status, .. } => Some(*status),
                    _ => None,
                };
                let mode = poller.mode();
                let next = poller.failed(Some(&query), status);
                if poller.mode() != mode {
                    tracing::warn!(status, plainer = ?poller.mode(), "the server refused a long-poll or a delta; asking more plainly");
                }
                retrying(&error, next)?
            }
        };
        match next {
            Next::Now => {}
            Next::After(pause) => {
                if waiting.during(tokio::time::sleep(pause)).await.is_none() {
                    return Ok(());
                }
            }
            Next::Exit => return Ok(()),
        }
    }
}

/// Applies one manifest, keeping the watcher and the index true around it;
/// returns the revision now on disk.
async fn cycle(
    tree: &Tree<'_>,
    waiting: &mut Waiting<'_>,
    manifest: Manifest,
    placing: Placing,
) -> Result<Outcome, Error> {
    let root = tree.root;
    local_watch::invalidate(root, &mut waiting.index, waiting.watcher.take_touched());
    // A delta names every path it can have written or adopted; only their
    // directories can need a new watch.
    let delta_paths: Option<Vec<FilePath>> = (!manifest.full).then(|| {
        manifest
            .files
            .iter()
            .map(|entry| entry.path.clone())
            .collect()
    });
    let outcome = apply::apply(tree, &mut waiting.index, manifest, placing).await?;
    waiting.saver.unsaved = true;
    // The first cycle of a process (and any cycle a save is due at) records
    // what it wrote at once, before the watches and the status report: a
    // daemon killed in between would otherwise find its files unowned, and
    // leave them when the server deletes them.
    if waiting.saver.due() <= tokio::time::Instant::now() {
        waiting.saver.save(&mut waiting.index);
    }
    let index = &mut waiting.index;
    if !waiting.watcher.is_on() {
        return Ok(outcome);
    }
    match &delta_paths {
        None => waiting.watcher.cover(root, index),
        Some(paths) => waiting
            .watcher
            .cover_paths(root, paths.iter().filter(|path| index.owns(path))),
    }
    // An edit between a rename and the new watch would go unseen; one lstat
    // per written file closes that gap.
    let written = outcome.written.iter().map(|path| root.join(path.as_str()));
    local_watch::invalidate(root, index, written.collect());
    Ok(outcome)
}

fn backwards(previous: u64, manifest: &Manifest) {
    tracing::warn!(
        previous,
        revision = manifest.revision,
        "revision went backwards; full resync"
    );
}

/// Passes a critical error up; a transient one is for the poller.
fn runtime(error: Error) -> Result<RuntimeError, CriticalError> {
    match error {
        Error::Critical(critical) => Err(critical),
        Error::Runtime(runtime) => Ok(runtime),
    }
}

/// Logs a transient error and the pause before the retry, or gives up
/// (`--once` after its attempts).
fn retrying(error: &RuntimeError, delay: Option<Duration>) -> Result<Next, CriticalError> {
    let Some(delay) = delay else {
        return Err(CriticalError::Config(format!(
            "gave up after {ONCE_ATTEMPTS} attempts: {error}"
        )));
    };
    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "sync cycle failed; retrying");
    Ok(Next::After(delay))
}

/// What the loop keeps true while it waits for an answer or a pause to end:
/// the index (local edits mark paths dirty, saves happen off the hot path)
/// and shutdown.
struct Waiting<'a> {
    index: Index,
    watcher: LocalWatcher,
    saver: Saver,
    shutdown: watch::Receiver<bool>,
    config: &'a Config,
}

impl Waiting<'_> {
    /// Runs `future` to completion, or returns `None` on shutdown.
    async fn during<F: Future>(&mut self, future: F) -> Option<F::Output> {
        tokio::pin!(future);
        loop {
            // Biased: a request is polled (handed to the connection) before a
            // due index save runs.
            tokio::select! {
                biased;
                output = &mut future => return Some(output),
                () = self.watcher.changed.notified() => {
                    local_watch::invalidate(&self.config.dir, &mut self.index, self.watcher.take_touched());
                }
                _ = self.shutdown.changed() => return None,
                () = tokio::time::sleep_until(self.saver.due()), if self.saver.unsaved => self.saver.save(&mut self.index),
            }
        }
    }
}

/// Saves the index after applied cycles, off the hot path: while the loop
/// waits (the next long-poll already sent, or the pause between polls), at
/// most once per [`SAVE_EVERY`], without fsync ([`Index::save_unsynced`]
/// says why that is safe), and once more, fsynced, when the loop ends.
#[derive(Debug, Default)]
struct Saver {
    /// Cycles were applied since the last save.
    unsaved: bool,
    last: Option<Instant>,
}

impl Saver {
    fn due(&self) -> tokio::time::Instant {
        self.last
            .map_or_else(Instant::now, |last| last + SAVE_EVERY)
            .into()
    }

    fn save(&mut self, index: &mut Index) {
        self.last = Some(Instant::now());
        index.pack_after_churn();
        let saved = index.save_unsynced();
        // What the cycles before this save freed goes back to the system.
        crate::heap::release();
        match saved {
            Ok(()) => self.unsaved = false,
            // Tried again after SAVE_EVERY.
            Err(error) => {
                tracing::warn!(path = %index.location().display(), %error, "cannot save the index")
            }
        }
    }
}

fn save_quietly(index: &mut Index) {
    if let Err(error) = index.save() {
        tracing::warn!(path = %index.location().display(), %error, "cannot save the index");
    }
}
