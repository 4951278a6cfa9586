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

/// Runs until shutdown (returns `Ok`), a critical error, or, with `--once`,
/// the first full converge. `applied` receives each revision put on disk.
pub async fn run(
    config: &Config,
    client: &Client,
    board: &StatusBoard,
    applied: &watch::Sender<Option<u64>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), CriticalError> {
    let mut index = Index::load(&config.state_dir)?;
    let staging = Staging::prepare(&config.dir, &config.state_dir)?;
    let mut watcher = LocalWatcher::new();
    watcher.cover(&config.dir, &index);
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
                tokio::select! {
                    result = &mut fetch => break result,
                    () = watcher.changed.notified() => {
                        local_watch::invalidate(&config.dir, &mut index, watcher.take_touched());
                    }
                    _ = shutdown.changed() => return Ok(()),
                }
            }
        };
        let pause = match result {
            Ok(Poll::Unchanged) => {
                backoff.reset();
                let held = matches!(query, ManifestQuery::LongPoll { .. })
                    && started.elapsed() >= MIN_HELD_POLL;
                (!held).then_some(config.interval)
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
                local_watch::invalidate(&config.dir, &mut index, watcher.take_touched());
                match apply::apply(&tree, &mut index, manifest).await {
                    Ok(outcome) => {
                        need_full = false;
                        backoff.reset();
                        watcher.cover(&config.dir, &index);
                        // An edit between a rename and the new watch would
                        // go unseen; one lstat per written file closes that gap.
                        let written = outcome
                            .written
                            .iter()
                            .map(|path| config.dir.join(path.as_str()));
                        local_watch::invalidate(&config.dir, &mut index, written.collect());
                        board.set_revision(outcome.revision);
                        applied.send_replace(Some(outcome.revision));
                        if config.once {
                            return Ok(());
                        }
                        // With plain polling a change is no reason to wait
                        // less; with long-poll the next request blocks anyway.
                        (mode != Mode::LongPoll).then_some(config.interval)
                    }
                    Err(error) => {
                        save_quietly(&index);
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
            && sleep_watching(duration, &config.dir, &mut index, &watcher, &mut shutdown).await
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
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let sleep = tokio::time::sleep(duration);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return false,
            () = watcher.changed.notified() => local_watch::invalidate(root, index, watcher.take_touched()),
            _ = shutdown.changed() => return true,
        }
    }
}

fn save_quietly(index: &Index) {
    if let Err(error) = index.save() {
        tracing::warn!(path = %index.location().display(), %error, "cannot save the index");
    }
}
