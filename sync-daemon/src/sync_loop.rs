//! The sync loop: ask for the manifest, apply it, report, repeat.
//!
//! With long-polling the server holds `?since=N&wait=30` until the revision
//! passes N, so a save lands within milliseconds and an idle app costs one
//! request per 30 s. Without it (`--no-long-poll`, or a server that refuses
//! `wait`), the loop asks `?since=N` every `--interval`, and falls back to
//! `If-None-Match` on the whole manifest if `since` is refused too. Either
//! way an idle poll is a 304 and costs no disk access at all. The first
//! cycle, and every cycle after a failure, fetches the full manifest and
//! compares the whole tree, so nothing missed while down or during a
//! half-applied cycle stays wrong.

use std::path::Path;
use std::time::{Duration, Instant};

use sync_protocol::FilePath;
use tokio::sync::watch;

use crate::apply::{self, Tree};
use crate::backoff::Backoff;
use crate::client::{Client, ManifestQuery, Poll};
use crate::config::Config;
use crate::error::{CriticalError, Error, RuntimeError};
use crate::index::Index;
use crate::staging::Staging;
use crate::status::StatusBoard;
use crate::watch::{self as local_watch, LocalWatcher};

/// How many times `--once` retries a transient failure before giving up.
const ONCE_ATTEMPTS: u32 = 5;
/// A long-poll answered faster than this without a change means the server
/// did not hold it; pause an interval so the loop cannot spin (Consul's rule).
const MIN_HELD_POLL: Duration = Duration::from_secs(1);
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
    let mut index = Index::load(&config.state_dir)?;
    let mut saver = Saver::default();
    let result = sync(
        config, client, board, applied, shutdown, &mut index, &mut saver,
    )
    .await;
    // Shutdown, `--once` or a critical error: keep what the last cycles did.
    if saver.unsaved {
        save_quietly(&index);
    }
    result
}

async fn sync(
    config: &Config,
    client: &Client,
    board: &StatusBoard,
    applied: &watch::Sender<Option<u64>>,
    mut shutdown: watch::Receiver<bool>,
    index: &mut Index,
    saver: &mut Saver,
) -> Result<(), CriticalError> {
    let staging = Staging::prepare(&config.dir, &config.state_dir)?;
    let mut watcher = LocalWatcher::new();
    watcher.cover(&config.dir, index);
    let tree = Tree {
        root: &config.dir,
        state_dir: &config.state_dir,
        staging: &staging,
        client,
    };
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    let mut mode = if config.long_poll {
        Mode::LongPoll
    } else {
        Mode::Deltas
    };
    let mut need_full = true;
    let mut etag: Option<String> = None;

    loop {
        let query = match (need_full, mode, index.revision, &etag) {
            (false, Mode::LongPoll, Some(since), _) => ManifestQuery::LongPoll { since },
            (false, Mode::Deltas, Some(since), _) => ManifestQuery::Since { since },
            (false, Mode::Conditional, _, Some(etag)) => ManifestQuery::IfNoneMatch(etag.clone()),
            _ => ManifestQuery::Full,
        };
        tracing::debug!(?query, "manifest request");
        let started = Instant::now();
        let result = {
            let fetch = client.manifest(&query);
            tokio::pin!(fetch);
            loop {
                // Biased: the request is polled (handed to the connection) before a
                // due index save runs.
                tokio::select! {
                    biased;
                    result = &mut fetch => break result,
                    () = watcher.changed.notified() => {
                        local_watch::invalidate(&config.dir, index, watcher.take_touched());
                    }
                    _ = shutdown.changed() => return Ok(()),
                    () = tokio::time::sleep_until(saver.due()), if saver.unsaved => saver.save(index),
                }
            }
        };
        let pause = match result {
            Ok(Poll::Unchanged) => {
                backoff.reset();
                if matches!(query, ManifestQuery::LongPoll { .. }) {
                    let held = started.elapsed() >= MIN_HELD_POLL;
                    (!held).then_some(config.interval)
                } else {
                    // Polls start an interval apart, however long each took.
                    Some(config.interval.saturating_sub(started.elapsed()))
                }
            }
            Ok(Poll::Changed(manifest)) => {
                if let Some(previous) = index
                    .revision
                    .filter(|previous| manifest.revision < *previous)
                {
                    tracing::warn!(
                        previous,
                        revision = manifest.revision,
                        "revision went backwards; full resync"
                    );
                    if !manifest.full {
                        need_full = true;
                        continue;
                    }
                }
                if manifest.full {
                    etag = manifest.etag.clone();
                }
                local_watch::invalidate(&config.dir, index, watcher.take_touched());
                // A delta names every path it can have written or adopted;
                // only their directories can need a new watch.
                let delta_paths: Option<Vec<FilePath>> = (!manifest.full).then(|| {
                    manifest
                        .files
                        .iter()
                        .map(|entry| entry.path.clone())
                        .collect()
                });
                match apply::apply(&tree, index, manifest).await {
                    Ok(outcome) => {
                        need_full = false;
                        backoff.reset();
                        saver.unsaved = true;
                        match &delta_paths {
                            None => watcher.cover(&config.dir, index),
                            Some(paths) => watcher.cover_paths(
                                &config.dir,
                                paths.iter().filter(|path| index.owns(path)),
                            ),
                        }
                        // An edit between a rename and the new watch would
                        // go unseen; one lstat per written file closes that gap.
                        let written = outcome
                            .written
                            .iter()
                            .map(|path| config.dir.join(path.as_str()));
                        local_watch::invalidate(&config.dir, index, written.collect());
                        board.record_cycle(&outcome);
                        applied.send_replace(Some(outcome.revision));
                        if config.once {
                            return Ok(());
                        }
                        // With plain polling a change is no reason to wait
                        // less; with long-poll the next request blocks anyway.
                        (mode != Mode::LongPoll)
                            .then(|| config.interval.saturating_sub(started.elapsed()))
                    }
                    Err(error) => {
                        save_quietly(index);
                        saver.unsaved = false;
                        need_full = true;
                        Some(transient(error, config, &mut backoff)?)
                    }
                }
            }
            Err(error) => {
                if let Error::Runtime(RuntimeError::Status { status, .. }) = &error
                    // 400 (`since` or `wait` not understood), 405 or 501: ask
                    // more plainly. A 404 or 429 is about the app or the load,
                    // and is retried like any other transient failure.
                    && matches!(status, 400 | 405 | 501)
                {
                    let plainer = match query {
                        ManifestQuery::LongPoll { .. } => Some(Mode::Deltas),
                        ManifestQuery::Since { .. } => Some(Mode::Conditional),
                        _ => None,
                    };
                    if let Some(plainer) = plainer {
                        tracing::warn!(
                            status,
                            ?plainer,
                            "the server refused a long-poll or a delta; asking more plainly"
                        );
                        mode = plainer;
                    }
                }
                need_full = true;
                Some(transient(error, config, &mut backoff)?)
            }
        };
        if let Some(duration) = pause
            && sleep_watching(duration, &config.dir, index, &watcher, saver, &mut shutdown).await
        {
            return Ok(());
        }
    }
}

/// How the loop asks for changes, from the cheapest to the plainest; it
/// steps down when the server refuses a kind of request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `?since=N&wait=30`: the server holds the request until a change.
    LongPoll,
    /// `?since=N` every interval: 304 when idle, only the changes otherwise.
    Deltas,
    /// `If-None-Match` every interval: 304 when idle, the whole manifest otherwise.
    Conditional,
}

/// Logs a transient error and returns the pause before retrying; passes a
/// critical one up.
fn transient(
    error: Error,
    config: &Config,
    backoff: &mut Backoff,
) -> Result<Duration, CriticalError> {
    match error {
        Error::Critical(critical) => Err(critical),
        Error::Runtime(runtime) => {
            let delay = backoff.next_delay();
            if config.once && backoff.failures() >= ONCE_ATTEMPTS {
                return Err(CriticalError::Config(format!(
                    "gave up after {ONCE_ATTEMPTS} attempts: {runtime}"
                )));
            }
            tracing::warn!(error = %runtime, retry_in_ms = delay.as_millis() as u64, "sync cycle failed; retrying");
            Ok(delay)
        }
    }
}

/// Sleeps, keeping the index true meanwhile; returns true on shutdown.
async fn sleep_watching(
    duration: Duration,
    root: &Path,
    index: &mut Index,
    watcher: &LocalWatcher,
    saver: &mut Saver,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let sleep = tokio::time::sleep(duration);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return false,
            () = watcher.changed.notified() => local_watch::invalidate(root, index, watcher.take_touched()),
            _ = shutdown.changed() => return true,
            () = tokio::time::sleep_until(saver.due()), if saver.unsaved => saver.save(index),
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

    fn save(&mut self, index: &Index) {
        self.last = Some(Instant::now());
        match index.save_unsynced() {
            Ok(()) => self.unsaved = false,
            // Tried again after SAVE_EVERY.
            Err(error) => {
                tracing::warn!(path = %index.location().display(), %error, "cannot save the index")
            }
        }
    }
}

fn save_quietly(index: &Index) {
    if let Err(error) = index.save() {
        tracing::warn!(path = %index.location().display(), %error, "cannot save the index");
    }
}
