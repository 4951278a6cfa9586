//! What the daemon tells the provisioner: the revision on disk and the dev
//! server's state. The sync loop and the supervisor each update their half
//! of a shared board; one reporter task posts the latest whenever it changes,
//! so a burst of updates costs one request and a failed post is retried.

use std::time::{Duration, Instant};

use sync_protocol::render::RenderReport;
use sync_protocol::{DevServerState, RuntimeReport, SyncStatusReport};
use tokio::sync::watch;

use crate::apply::Outcome;
use crate::backoff::Backoff;
use crate::client::Client;
use crate::error::Error;
use crate::refusals::Refusals;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The last revision applied with nothing refused.
    pub revision: Option<u64>,
    /// When the cycle that brought `revision` began writing.
    pub applied_at: Option<Instant>,
    pub dev_server: DevServerState,
    pub message: Option<String>,
    /// Paths still not on disk: they hold `revision` back and are reported.
    pub refusals: Refusals,
    pub runtime: Option<RuntimeReport>,
    /// When the gateway last served a visitor, to the nearest [`VISIT_GRAIN`].
    pub last_visit: Option<Instant>,
    /// What the preview shows (the `render` module's verdict).
    pub render: Option<RenderReport>,
}

/// Visits closer together than this are one piece of news: a page with a
/// hundred assets makes one report, not a hundred.
pub const VISIT_GRAIN: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct StatusBoard {
    sender: watch::Sender<Status>,
}

impl StatusBoard {
    pub fn new(dev_server: DevServerState) -> StatusBoard {
        let (sender, _) = watch::channel(Status {
            revision: None,
            applied_at: None,
            dev_server,
            message: None,
            refusals: Refusals::default(),
            runtime: None,
            last_visit: None,
            render: None,
        });
        StatusBoard { sender }
    }

    /// Takes in an applied cycle, which began writing at `began`: its
    /// revision, unless a path stands refused.
    pub fn record_cycle(&self, outcome: &Outcome, began: Instant) {
        self.sender.send_if_modified(|status| {
            let before = (status.revision, status.refusals.clone());
            let revision = status.refusals.after_cycle(outcome.refusals());
            if status.revision != Some(revision) {
                status.applied_at = Some(began);
            }
            status.revision = Some(revision);
            before != (status.revision, status.refusals.clone())
        });
    }

    pub fn set_dev_server(&self, state: DevServerState, message: Option<String>) {
        self.sender.send_if_modified(|status| {
            let changed = status.dev_server != state || status.message != message;
            status.dev_server = state;
            status.message = message;
            changed
        });
    }

    /// What the supervisor runs (detected or given).
    pub fn set_runtime(&self, runtime: Option<RuntimeReport>) {
        self.sender.send_if_modified(|status| {
            let changed = status.runtime != runtime;
            status.runtime = runtime;
            changed
        });
    }

    /// The render verdict for the applied revision.
    pub fn set_render(&self, render: RenderReport) {
        self.sender.send_if_modified(|status| {
            let changed = status.render.as_ref() != Some(&render);
            status.render = Some(render);
            changed
        });
    }

    /// Where the dev server answered, once it did.
    pub fn set_upstream_port(&self, port: u16) {
        self.sender
            .send_if_modified(|status| match &mut status.runtime {
                Some(runtime) if runtime.upstream_port != Some(port) => {
                    runtime.upstream_port = Some(port);
                    true
                }
                _ => false,
            });
    }

    /// The gateway served a visitor: reported (as activity) unless one was
    /// reported less than [`VISIT_GRAIN`] ago.
    pub fn record_visit(&self) {
        let now = Instant::now();
        self.sender.send_if_modified(|status| {
            let news = status
                .last_visit
                .is_none_or(|last| now.duration_since(last) >= VISIT_GRAIN);
            if news {
                status.last_visit = Some(now);
            }
            news
        });
    }

    pub fn current(&self) -> Status {
        self.sender.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.sender.subscribe()
    }
}

impl Status {
    /// Nothing is reported before a first cycle is applied. Refused paths
    /// come first in the message, then the dev server's note.
    pub fn report(&self) -> Option<SyncStatusReport> {
        let notes: Vec<String> = [self.refusals.describe(), self.message.clone()]
            .into_iter()
            .flatten()
            .collect();
        Some(SyncStatusReport {
            revision: self.revision?,
            dev_server: self.dev_server,
            message: (!notes.is_empty()).then(|| notes.join("; ")),
            runtime: self.runtime.clone(),
            visited_secs_ago: self.last_visit.map(|at| at.elapsed().as_secs()),
            render: self.render.clone(),
        })
    }
}

/// Posts every new status until the board is dropped. Failed posts are
/// retried with backoff unless a newer status supersedes them.
pub async fn report_changes(client: Client, mut receiver: watch::Receiver<Status>) {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
    loop {
        let Some(report) = receiver.borrow_and_update().report() else {
            if receiver.changed().await.is_err() {
                return;
            }
            continue;
        };
        match client.report(&report).await {
            Ok(()) => {
                backoff.reset();
                if receiver.changed().await.is_err() {
                    return;
                }
            }
            Err(error) => {
                match error {
                    Error::Critical(_) => tracing::error!(%error, "sync-status refused"),
                    Error::Runtime(_) => {
                        tracing::warn!(%error, "sync-status not delivered; retrying")
                    }
                }
                // A newer status ends the wait early; either way the loop
                // posts the latest one.
                // Once the board is gone (shutdown) the caller bounds how
                // long the last status may keep being retried.
                let delay = backoff.next_delay();
                if let Ok(Err(_closed)) = tokio::time::timeout(delay, receiver.changed()).await {
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(revision: u64) -> Outcome {
        Outcome {
            revision,
            full: true,
            ..Outcome::default()
        }
    }

    #[test]
    fn nothing_is_reported_before_a_revision_and_repeats_wake_no_one() {
        let board = StatusBoard::new(DevServerState::Starting);
        let mut receiver = board.subscribe();
        assert_eq!(board.current().report(), None);

        board.record_cycle(&applied(4), Instant::now());
        assert!(receiver.has_changed().unwrap());
        let report = receiver.borrow_and_update().report().unwrap();
        assert_eq!(
            (report.revision, report.dev_server),
            (4, DevServerState::Starting)
        );

        // The same revision or dev server state again is no news.
        board.record_cycle(&applied(4), Instant::now());
        board.set_dev_server(DevServerState::Starting, None);
        assert!(!receiver.has_changed().unwrap());

        board.set_dev_server(DevServerState::Crashed, Some("exit 1".to_owned()));
        assert!(receiver.has_changed().unwrap());
        assert_eq!(board.current().message.as_deref(), Some("exit 1"));
    }

    #[test]
    fn a_visit_is_reported_once_per_grain() {
        let board = StatusBoard::new(DevServerState::Ready);
        board.record_cycle(&applied(1), Instant::now());
        let mut receiver = board.subscribe();
        receiver.borrow_and_update();
        assert_eq!(board.current().report().unwrap().visited_secs_ago, None);

        board.record_visit();
        assert!(receiver.has_changed().unwrap());
        let report = receiver.borrow_and_update().report().unwrap();
        assert_eq!(report.visited_secs_ago, Some(0));

        // More visits within the grain are no news.
        board.record_visit();
        board.record_visit();
        assert!(!receiver.has_changed().unwrap());
    }
}
