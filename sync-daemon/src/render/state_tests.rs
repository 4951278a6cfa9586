//! The render state machine as a table: inputs in order, the state and
//! error it ends with.

use std::time::Duration;

use super::*;

fn compile(message: &str) -> Input {
    Input::Output(Signal::Error(RenderError {
        message: message.to_owned(),
        file: Some("src/App.jsx".to_owned()),
        line: Some(3),
        origin: ErrorOrigin::Compile,
    }))
}

/// The moment revision `n` began to be applied: `n` seconds after a start.
fn moment(n: u64) -> Instant {
    static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);
    *START + Duration::from_secs(n)
}

fn applied(n: u64) -> Input {
    Input::Applied(n, moment(n))
}

/// An HMR update whose message the dev server pushed just after it began
/// applying revision `n`.
fn hmr_pushed_after(n: u64) -> Input {
    let Input::Page(event, _) = page(PageEventType::HmrApplied, None) else {
        unreachable!()
    };
    Input::Page(event, Some(moment(n) + Duration::from_millis(1)))
}

fn page(event_type: PageEventType, message: Option<&str>) -> Input {
    Input::Page(
        PageEvent {
            event_type,
            revision: None,
            message: message.map(str::to_owned),
            file: None,
            line: None,
            url: Some("/".to_owned()),
        },
        None,
    )
}

fn built() -> Input {
    Input::Output(Signal::Built)
}

fn run(inputs: Vec<Input>) -> Tracker {
    let mut tracker = Tracker::default();
    for input in inputs {
        tracker.take(input);
    }
    tracker
}

#[test]
fn each_revision_ends_where_its_inputs_lead() {
    use PageEventType::{ConsoleError, HmrApplied, Load, Navigation, Overlay, Rejection};
    use RenderState::{Applied, Compiled, Rendered};
    let cases: Vec<(&str, Vec<Input>, RenderState, Option<&str>)> = vec![
        ("applied alone", vec![applied(1)], Applied, None),
        ("built", vec![applied(1), built()], Compiled, None),
        (
            "hmr applied",
            vec![applied(1), built(), page(HmrApplied, None)],
            Rendered,
            None,
        ),
        (
            "a page load shows it too",
            vec![applied(1), page(Load, None)],
            Rendered,
            None,
        ),
        (
            "a compile error",
            vec![applied(1), built(), compile("Unexpected token")],
            RenderState::Error,
            Some("Unexpected token"),
        ),
        (
            "the overlay after a compile error keeps the compiler's account",
            vec![
                applied(1),
                compile("Unexpected token"),
                page(Overlay, Some("Transform failed")),
            ],
            RenderState::Error,
            Some("Unexpected token"),
        ),
        (
            "a compile error after the overlay gives the compiler's account",
            vec![
                applied(1),
                page(Overlay, Some("Transform failed")),
                compile("Unexpected token"),
            ],
            RenderState::Error,
            Some("Unexpected token"),
        ),
        (
            "an error thrown on render after the update was applied",
            vec![
                applied(1),
                page(HmrApplied, None),
                page(PageEventType::Error, Some("boom")),
            ],
            RenderState::Error,
            Some("boom"),
        ),
        (
            "an error stays the answer when the page loads after it",
            vec![
                applied(1),
                page(Rejection, Some("nope")),
                page(Load, None),
                built(),
            ],
            RenderState::Error,
            Some("nope"),
        ),
        (
            "the next revision starts clean",
            vec![applied(1), compile("Unexpected token"), applied(2)],
            Applied,
            None,
        ),
        (
            "the overlay of the broken revision, arriving after the fix, is not the fix's",
            vec![
                applied(1),
                compile("Unexpected token"),
                applied(2),
                page(
                    Overlay,
                    Some("Transform failed with 1 error:\n\nUnexpected token"),
                ),
                page(HmrApplied, None),
            ],
            Rendered,
            None,
        ),
        (
            "a new overlay after the fix is the fix's",
            vec![
                applied(1),
                compile("Unexpected token"),
                applied(2),
                page(Overlay, Some("Failed to resolve import")),
            ],
            RenderState::Error,
            Some("Failed to resolve import"),
        ),
        (
            "the fix renders",
            vec![
                applied(1),
                compile("Unexpected token"),
                applied(2),
                page(HmrApplied, None),
            ],
            Rendered,
            None,
        ),
        (
            "an HMR update pushed after the revision was applied renders it",
            vec![applied(1), applied(2), hmr_pushed_after(2)],
            Rendered,
            None,
        ),
        (
            "an HMR update pushed before the revision was applied is not about it",
            vec![applied(1), applied(2), hmr_pushed_after(1)],
            Applied,
            None,
        ),
        (
            "a compile error is not hidden by the revision before's late update",
            vec![
                applied(1),
                applied(2),
                hmr_pushed_after(1),
                compile("Unexpected token"),
            ],
            RenderState::Error,
            Some("Unexpected token"),
        ),
        (
            "console errors and navigation are events, not verdicts",
            vec![
                applied(1),
                page(ConsoleError, Some("warning-ish")),
                page(Navigation, None),
            ],
            Applied,
            None,
        ),
    ];
    for (name, inputs, state, message) in cases {
        let tracker = run(inputs);
        let report = tracker.report().expect("a report");
        assert_eq!(report.state, state, "{name}");
        assert_eq!(
            report.error.as_ref().map(|error| error.message.as_str()),
            message,
            "{name}"
        );
    }
}

#[test]
fn nothing_is_reported_before_a_revision_is_applied() {
    let mut tracker = Tracker::default();
    assert!(!tracker.take(page(PageEventType::Load, None)));
    assert!(!tracker.take(built()));
    assert_eq!(tracker.report(), None);
    assert!(tracker.take(applied(3)));
    assert!(!tracker.take(applied(3)), "the same revision is no news");
}

#[test]
fn page_events_are_tied_to_the_revision_and_bounded() {
    let mut tracker = run(vec![applied(5)]);
    for index in 0..REPORTED_PAGE_EVENTS + 3 {
        tracker.take(page(
            PageEventType::ConsoleError,
            Some(&format!("message {index}")),
        ));
    }
    let report = tracker.report().unwrap();
    assert_eq!(report.events.len(), REPORTED_PAGE_EVENTS);
    assert_eq!(report.events[0].message.as_deref(), Some("message 3"));
    assert!(report.events.iter().all(|event| event.revision == Some(5)));
}

#[test]
fn the_page_url_follows_loads_and_navigation() {
    let mut tracker = run(vec![applied(1)]);
    let mut navigation = PageEvent {
        event_type: PageEventType::Navigation,
        revision: None,
        message: None,
        file: None,
        line: None,
        url: Some("/about?x=1".to_owned()),
    };
    tracker.take(Input::Page(navigation.clone(), None));
    assert_eq!(tracker.report().unwrap().url.as_deref(), Some("/about?x=1"));
    navigation.event_type = PageEventType::ConsoleError;
    navigation.url = Some("/ignored".to_owned());
    tracker.take(Input::Page(navigation, None));
    assert_eq!(tracker.report().unwrap().url.as_deref(), Some("/about?x=1"));
}
