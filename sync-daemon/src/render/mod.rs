//! What the preview shows for the revision on disk, decided in the daemon
//! (it alone sees the applied revision, the dev server's output and the
//! open page) and reported beside the sync status as `render`.
//!
//! - `classify`: the dev server's output lines → compile error or build.
//! - `state`: the pure state machine, revision by revision.
//! - `inject` and `page_script.js`: the script the gateway adds to HTML
//!   pages; `page_events`: the bounded route it reports to.
//!
//! [`run`] is the one task joining them: it reads the status board's
//! revision and the output tail every [`TICK`], takes page events as they
//! come, and puts each new verdict on the board, whose reporter posts it.

pub mod classify;
pub mod hmr;
pub mod inject;
pub mod page_events;
pub mod state;

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::gateway::OutputTail;
use crate::status::StatusBoard;
use classify::Classifier;
use page_events::{Ack, Delivery};
use state::{Input, Tracker};

/// How often the revision and the output are looked at.
pub const TICK: Duration = Duration::from_millis(20);

/// Runs until `stop` turns true (or the gateway's inbox is dropped), so the
/// board it holds never delays the daemon's last status report.
pub async fn run(
    board: StatusBoard,
    output: OutputTail,
    mut deliveries: mpsc::Receiver<Delivery>,
    roots: Vec<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut classifier = Classifier::new(roots);
    let mut tracker = Tracker::default();
    let mut seen = output.total();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut changed = false;
        tokio::select! {
            _ = stop.wait_for(|stopping| *stopping) => return,
            delivery = deliveries.recv() => {
                let Some(Delivery { mut event, pushed_at, reply }) = delivery else { return };
                event.file = event.file.map(|file| classify::relative_to(classifier.roots(), &file));
                // The revision first: an event tells about what is on disk now.
                changed |= take_revision(&board, &mut tracker);
                changed |= tracker.take(Input::Page(event, pushed_at));
                let report = tracker.report();
                let _ = reply.send(Ack {
                    revision: report.map(|report| report.revision),
                    state: report.map(|report| report.state),
                });
            }
            _ = ticker.tick() => {
                changed |= take_revision(&board, &mut tracker);
                let (lines, total) = output.lines_after(seen);
                seen = total;
                for line in lines {
                    let text = line.split_once(" | ").map_or(line.as_str(), |(_, text)| text);
                    if let Some(signal) = classifier.feed(text) {
                        changed |= tracker.take(Input::Output(signal));
                    }
                }
            }
        }
        if changed && let Some(report) = tracker.report() {
            board.set_render(report.clone());
        }
    }
}

fn take_revision(board: &StatusBoard, tracker: &mut Tracker) -> bool {
    let status = board.current();
    match (status.revision, status.applied_at) {
        (Some(revision), Some(at)) => tracker.take(Input::Applied(revision, at)),
        _ => false,
    }
}
