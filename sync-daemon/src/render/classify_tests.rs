//! The classifier against what the real tools printed (`captures/`: Vite 8
//! with React and TypeScript, Next 16 with Turbopack, TypeScript 7's `tsc`,
//! each run here on a broken file and its fix).

use super::*;
use crate::gateway::output::strip_ansi;

/// Every signal the capture's lines give, in order, and the errors as the
/// last refinement of each block (what the state ends with).
fn signals(capture: &str, roots: &[&str]) -> Vec<Signal> {
    let mut classifier = Classifier::new(roots.iter().map(|root| (*root).to_owned()));
    capture
        .lines()
        .filter_map(|line| classifier.feed(&strip_ansi(line)))
        .collect()
}

/// An error and its refinements (a message after "…failed with 1 error:",
/// then its location; or the same error printed again) read as one: the last.
fn settled(signals: Vec<Signal>) -> Vec<Signal> {
    let mut out: Vec<Signal> = Vec::new();
    for signal in signals {
        if let (Some(Signal::Error(previous)), Signal::Error(next)) = (out.last(), &signal)
            && (previous.message.ends_with(':') || previous.message == next.message)
        {
            *out.last_mut().expect("a last signal") = signal;
            continue;
        }
        out.push(signal);
    }
    out
}

fn error(message: &str, file: &str, line: Option<u32>) -> Signal {
    Signal::Error(RenderError {
        message: message.to_owned(),
        file: Some(file.to_owned()),
        line,
        origin: ErrorOrigin::Compile,
    })
}

#[test]
fn vite_reports_its_parse_errors_and_failed_imports_with_file_and_line() {
    let capture = include_str!("captures/vite-react-ts.log");
    let found = settled(signals(capture, &["/tmp/render-cap/vite"]));
    assert_eq!(
        found,
        [
            Signal::Built,
            error(
                "[PARSE_ERROR] Expected `,` or `)` but found `}`",
                "src/App.tsx",
                Some(120)
            ),
            Signal::Built,
            Signal::Built,
            error(
                "Failed to resolve import \"./Missing\" from \"src/App.tsx\". Does the file exist?",
                "src/App.tsx",
                Some(1)
            ),
            Signal::Built,
            error("[PARSE_ERROR] Unexpected token", "src/Broken.tsx", Some(1)),
        ]
    );
}

#[test]
fn vite_reports_an_error_at_its_first_line_before_the_block_is_read() {
    let mut classifier = Classifier::new(["/app".to_owned()]);
    let first = classifier.feed(
        "10:15:47 AM [vite] Internal server error: Failed to resolve import \"./x\" from \"src/main.jsx\". Does the file exist?",
    );
    assert_eq!(
        first,
        Some(error(
            "Failed to resolve import \"./x\" from \"src/main.jsx\". Does the file exist?",
            "src/main.jsx",
            None
        ))
    );
    let located = classifier.feed("  File: /app/src/main.jsx:3:7");
    assert_eq!(
        located,
        Some(error(
            "Failed to resolve import \"./x\" from \"src/main.jsx\". Does the file exist?",
            "src/main.jsx",
            Some(3)
        ))
    );
    assert_eq!(
        classifier.feed("      at resolveId (file:///app/x.js:1:1)"),
        None
    );
    assert_eq!(classifier.feed("  File: /app/src/other.jsx:9:1"), None);
}

#[test]
fn next_reports_its_compile_errors_and_compiled_builds() {
    let capture = include_str!("captures/next.log");
    let found = settled(signals(capture, &["/tmp/render-cap/next"]));
    assert_eq!(
        found,
        [
            error("Expected ',', got ';'", "app/page.js", Some(68)),
            Signal::Built,
            error(
                "Module not found: Can't resolve './Missing'",
                "app/page.js",
                Some(1)
            ),
            Signal::Built,
        ]
    );
}

#[test]
fn typescript_errors_read_the_same_plain_or_pretty() {
    let expected = error(
        "TS2345: Argument of type 'number' is not assignable to parameter of type 'string | (() => string)'.",
        "src/App.tsx",
        Some(8),
    );
    for capture in [
        include_str!("captures/tsc.log"),
        include_str!("captures/tsc-pretty.log"),
    ] {
        assert_eq!(
            signals(capture, &[]),
            std::slice::from_ref(&expected),
            "{capture}"
        );
    }
}

#[test]
fn ordinary_output_tells_nothing() {
    let lines = [
        "  VITE v8.3.8  ready in 546 ms",
        "  ➜  Local:   http://localhost:5291/",
        "10:16:03 AM [vite] vite.config.ts changed, restarting server...",
        "10:16:03 AM [vite] server restarted.",
        "✓ Ready in 2.3s",
        " GET / 200 in 1586ms (next.js: 805ms, application-code: 781ms)",
        "Warning: Error while requesting resource",
        "",
    ];
    let mut classifier = Classifier::new(["/app".to_owned()]);
    for line in lines {
        assert_eq!(classifier.feed(line), None, "{line:?}");
    }
}

#[test]
fn locations_split_into_path_and_line() {
    let cases = [
        ("src/App.tsx:120:1", (Some("src/App.tsx"), Some(120))),
        ("./app/page.js:68", (Some("./app/page.js"), Some(68))),
        ("/app/src/App.tsx", (Some("/app/src/App.tsx"), None)),
        ("C:/x.js:3:4", (Some("C:/x.js"), Some(3))),
        ("", (None, None)),
    ];
    for (location, expected) in cases {
        assert_eq!(split_location(location), expected, "{location}");
    }
}
