//! The recent lines the install and the dev server printed, kept for the
//! loading page, the ports a dev server announces, and the error a preview
//! shows when its dev server never answers. Bounded: a dev server printing
//! without end costs a fixed amount of memory.
//!
//! Every line is also queued for the provisioner's log (`crate::logs`),
//! labelled by source; the daemon's and the gateway's own notes go there
//! only (`note`), not into the loading page's tail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use sync_protocol::logs::{LogSource, cut_to};

use crate::logs::Outbox;

/// How many lines are kept.
pub const KEPT_LINES: usize = 200;
/// Longer lines are cut to this many bytes (on a character boundary).
pub const LINE_BYTES: usize = 400;

/// A shared, bounded tail of output lines, ANSI escapes removed.
#[derive(Clone, Debug, Default)]
pub struct OutputTail {
    lines: Arc<Mutex<Tail>>,
    /// What the log shipper sends to the provisioner.
    outbox: Outbox,
}

#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
    /// How many lines were ever pushed; lets a reader ask for what is new.
    total: u64,
}

impl OutputTail {
    pub fn new() -> OutputTail {
        OutputTail::default()
    }

    /// Keeps one line as printed (escapes stripped, trailing newline and
    /// carriage returns dropped, cut to [`LINE_BYTES`]).
    pub fn push(&self, label: &str, raw: &str) {
        let text = strip_ansi(raw);
        let text = text.trim_end();
        let mut line = format!("{label} | {text}");
        cut_to(&mut line, LINE_BYTES);
        self.outbox.push(source_of(label), text);
        let mut tail = self.lines.lock().expect("output tail poisoned");
        if tail.lines.len() == KEPT_LINES {
            tail.lines.pop_front();
        }
        tail.lines.push_back(line);
        tail.total += 1;
    }

    /// Ships one of the daemon's or the gateway's own notes to the
    /// provisioner's log (not shown on the loading page), a log line per
    /// line of the note.
    pub fn note(&self, source: LogSource, text: &str) {
        for line in text.lines() {
            self.outbox.push(source, strip_ansi(line).trim_end());
        }
    }

    /// The lines waiting to be shipped.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The last `count` lines, oldest first.
    pub fn last(&self, count: usize) -> Vec<String> {
        let tail = self.lines.lock().expect("output tail poisoned");
        let skip = tail.lines.len().saturating_sub(count);
        tail.lines.iter().skip(skip).cloned().collect()
    }

    /// The kept lines pushed after the first `seen` ones, and how many were
    /// pushed in all (the `seen` of the next call).
    pub fn lines_after(&self, seen: u64) -> (Vec<String>, u64) {
        let tail = self.lines.lock().expect("output tail poisoned");
        let new = usize::try_from(tail.total.saturating_sub(seen)).unwrap_or(usize::MAX);
        let skip = tail.lines.len().saturating_sub(new);
        (tail.lines.iter().skip(skip).cloned().collect(), tail.total)
    }

    /// How many lines were pushed since the start.
    pub fn total(&self) -> u64 {
        self.lines.lock().expect("output tail poisoned").total
    }
}

/// The log source of a process label (`install`, `dev-server`).
fn source_of(label: &str) -> LogSource {
    match label {
        "install" => LogSource::Install,
        _ => LogSource::DevServer,
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL`
/// or `ESC \`, and two-byte escapes) and other control characters but tab.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_escapes_and_control_characters_are_removed() {
        let cases = [
            ("plain", "plain"),
            (
                "  \u{1b}[32m➜\u{1b}[39m  \u{1b}[1mLocal\u{1b}[22m:   \u{1b}[36mhttp://localhost:\u{1b}[1m5173\u{1b}[22m/\u{1b}[39m",
                "  ➜  Local:   http://localhost:5173/",
            ),
            ("\u{1b}]0;title\u{7}after", "after"),
            ("\u{1b}]8;;http://x\u{1b}\\link", "link"),
            ("bell\u{7} and\r", "bell and"),
            ("tab\tkept", "tab\tkept"),
        ];
        for (raw, expected) in cases {
            assert_eq!(strip_ansi(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn the_tail_keeps_the_last_lines_each_cut_to_a_bound() {
        let tail = OutputTail::new();
        for index in 0..KEPT_LINES + 5 {
            tail.push("dev", &format!("line {index}\n"));
        }
        tail.push("dev", &"é".repeat(LINE_BYTES));
        let last = tail.last(3);
        assert_eq!(last[0], format!("dev | line {}", KEPT_LINES + 3));
        assert_eq!(last[1], format!("dev | line {}", KEPT_LINES + 4));
        assert!(last[2].len() <= LINE_BYTES && last[2].ends_with('é'));
        assert_eq!(tail.last(usize::MAX).len(), KEPT_LINES);
        assert_eq!(tail.total(), KEPT_LINES as u64 + 6);
        let (new, seen) = tail.lines_after(KEPT_LINES as u64 + 4);
        assert_eq!(
            new,
            [format!("dev | line {}", KEPT_LINES + 4), last[2].clone()]
        );
        assert_eq!(tail.lines_after(seen), (Vec::new(), seen));
        assert_eq!(tail.lines_after(0).0.len(), KEPT_LINES, "only what is kept");
    }

    #[test]
    fn every_line_is_queued_for_the_log_with_its_source_and_notes_skip_the_page() {
        let tail = OutputTail::new();
        tail.push("install", "\u{1b}[1madded 3 packages\u{1b}[22m\n");
        tail.push("dev-server", "VITE ready\r\n");
        tail.note(
            LogSource::Daemon,
            "restarting the dev server;\nlast output:",
        );
        let shipped: Vec<(LogSource, String)> = tail
            .outbox()
            .take(10)
            .into_iter()
            .map(|line| (line.source, line.text))
            .collect();
        assert_eq!(
            shipped,
            [
                (LogSource::Install, "added 3 packages".to_owned()),
                (LogSource::DevServer, "VITE ready".to_owned()),
                (LogSource::Daemon, "restarting the dev server;".to_owned()),
                (LogSource::Daemon, "last output:".to_owned()),
            ]
        );
        assert_eq!(
            tail.last(10).len(),
            2,
            "the note is not on the loading page"
        );
    }
}
