//! The render verdict of the applied revision, as a pure state machine:
//! the applied revision, the dev server's output (`classify`) and the open
//! page's events go in; the report the provisioner keeps comes out.
//!
//! A new revision starts at `applied` with no error. The dev server's build
//! moves it to `compiled`; a page showing it (an HMR update applied, or a
//! load) to `rendered`; any error, from the output or the page, to `error`,
//! which only the next revision clears: an error seen once is the answer
//! for that revision, even if a page renders what it can after it.
//!
//! An HMR update the dev server pushed before the revision was applied is
//! about an earlier one (it reached the page late): it does not make the
//! revision on disk `rendered`.

use std::time::Instant;

use sync_protocol::render::{
    ErrorOrigin, PageEvent, PageEventType, REPORTED_PAGE_EVENTS, RenderError, RenderReport,
    RenderState,
};

use super::classify::Signal;

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The daemon began applying this revision at this moment.
    Applied(u64, Instant),
    /// The dev server's output said this.
    Output(Signal),
    /// An open page reported this (its `revision` is filled in here), with
    /// the moment the dev server pushed the HMR message it answers, if known.
    Page(PageEvent, Option<Instant>),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracker {
    report: Option<RenderReport>,
    /// The error of the revision before, and its number: a page's overlay
    /// repeating it after the next revision was applied is about that one.
    previous: Option<(u64, RenderError)>,
    /// When the current revision began to be applied.
    applied_at: Option<Instant>,
}

impl Tracker {
    /// The verdict so far; `None` before a first revision is applied.
    pub fn report(&self) -> Option<&RenderReport> {
        self.report.as_ref()
    }

    /// The revision events are tied to now.
    pub fn revision(&self) -> Option<u64> {
        self.report.as_ref().map(|report| report.revision)
    }

    /// Takes one input; answers whether the report changed.
    pub fn take(&mut self, input: Input) -> bool {
        let before = self.report.clone();
        match input {
            Input::Applied(revision, at) => self.applied(revision, at),
            Input::Output(signal) => {
                if let Some(report) = &mut self.report {
                    output(report, signal);
                }
            }
            Input::Page(event, pushed_at) => {
                let about_earlier = event.event_type == PageEventType::HmrApplied
                    && matches!((pushed_at, self.applied_at), (Some(pushed), Some(applied)) if pushed < applied);
                if about_earlier {
                    tracing::debug!(
                        revision = self.revision(),
                        "an HMR update pushed before this revision was applied is not about it"
                    );
                } else if let Some(report) = &mut self.report {
                    page(report, event, self.previous.as_ref());
                }
            }
        }
        self.report != before
    }

    fn applied(&mut self, revision: u64, at: Instant) {
        match &mut self.report {
            Some(report) if report.revision == revision => return,
            Some(report) => {
                self.previous = report.error.take().map(|error| (report.revision, error));
                report.revision = revision;
                report.state = RenderState::Applied;
                report.error = None;
            }
            None => {
                self.report = Some(RenderReport {
                    revision,
                    state: RenderState::Applied,
                    error: None,
                    url: None,
                    events: Vec::new(),
                })
            }
        }
        self.applied_at = Some(at);
    }
}

fn output(report: &mut RenderReport, signal: Signal) {
    match signal {
        Signal::Error(error) => {
            // A compile error replaces an earlier account of itself (the
            // classifier refines it line by line, the overlay echoes it); an
            // error the page's code threw stays.
            let keeps_page_error = report
                .error
                .as_ref()
                .is_some_and(|kept| kept.origin == ErrorOrigin::Runtime);
            if !keeps_page_error {
                report.error = Some(error);
            }
            report.state = RenderState::Error;
        }
        Signal::Built => {
            if report.state == RenderState::Applied {
                report.state = RenderState::Compiled;
            }
        }
    }
}

fn page(report: &mut RenderReport, mut event: PageEvent, previous: Option<&(u64, RenderError)>) {
    event.revision = Some(report.revision);
    let late = previous.filter(|(_, error)| {
        event.event_type == PageEventType::Overlay
            && report.error.is_none()
            && !error.message.is_empty()
            && event
                .message
                .as_deref()
                .is_some_and(|message| message.contains(&error.message))
    });
    if let Some((revision, _)) = late {
        // The overlay of the revision before, arriving after this one was
        // applied (the page reports it late): kept as that revision's event.
        event.revision = Some(*revision);
        push_event(report, event);
        return;
    }
    if let Some(url) = &event.url
        && matches!(
            event.event_type,
            PageEventType::Load | PageEventType::Navigation | PageEventType::HmrApplied
        )
    {
        report.url = Some(url.clone());
    }
    match event.event_type {
        PageEventType::HmrApplied | PageEventType::Load if report.state != RenderState::Error => {
            report.state = RenderState::Rendered;
        }
        kind if kind.is_error() => {
            if report.error.is_none() {
                report.error = Some(RenderError {
                    message: event.message.clone().unwrap_or_default(),
                    file: event.file.clone(),
                    line: event.line,
                    origin: if kind == PageEventType::Overlay {
                        ErrorOrigin::Overlay
                    } else {
                        ErrorOrigin::Runtime
                    },
                });
            }
            report.state = RenderState::Error;
        }
        _ => {}
    }
    push_event(report, event);
}

fn push_event(report: &mut RenderReport, event: PageEvent) {
    if report.events.len() == REPORTED_PAGE_EVENTS {
        report.events.remove(0);
    }
    report.events.push(event);
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
