//! What the client commands print for people: aligned tables, a preview's
//! readable block, log lines, and the per-revision lines of `push --watch`.
//! Pure functions of the answers (and of "now", passed in), tested as tables.

use std::fmt::Write as _;

use sync_protocol::PreviewResponse;
use sync_protocol::logs::LogLine;
use sync_protocol::render::{ErrorOrigin, RenderError, RenderReport, RenderState};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Columns padded to their widest cell, two spaces apart; the last is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|header| header.chars().count())
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header_row: Vec<String> = headers.iter().map(|header| (*header).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[index]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub const PREVIEW_HEADERS: [&str; 7] = [
    "APP",
    "STATE",
    "SAVED",
    "ON DISK",
    "ON SCREEN",
    "IDLE FOR",
    "URL",
];

/// One preview as a row under [`PREVIEW_HEADERS`].
pub fn preview_row(preview: &PreviewResponse, now: OffsetDateTime) -> Vec<String> {
    vec![
        preview.app_id.to_string(),
        preview.state.to_string(),
        number(preview.files_revision),
        number(preview.applied_revision),
        on_screen(preview.render.as_ref()),
        idle_for(&preview.last_activity_at, now),
        preview.url.clone().unwrap_or_else(|| "-".to_owned()),
    ]
}

/// A preview as `show` prints it: one labelled line per fact.
pub fn preview_block(preview: &PreviewResponse, now: OffsetDateTime) -> String {
    let mut lines: Vec<(&str, String)> = vec![
        ("app", preview.app_id.to_string()),
        ("state", preview.state.to_string()),
        ("url", preview.url.clone().unwrap_or_else(|| "-".to_owned())),
        (
            "revision",
            format!(
                "saved {} · on disk {} · on screen {}",
                number(preview.files_revision),
                number(preview.applied_revision),
                on_screen(preview.render.as_ref())
            ),
        ),
    ];
    if let Some(render) = &preview.render {
        let mut text = format!("revision {} {}", render.revision, render.state.as_str());
        if let Some(error) = &render.error {
            let _ = write!(text, ": {}", render_error(error));
        }
        if let Some(url) = &render.url {
            let _ = write!(text, " (page {url})");
        }
        lines.push(("render", text));
    }
    if let Some(dev_server) = preview.dev_server {
        let state = serde_json::to_value(dev_server).ok();
        let state = state
            .as_ref()
            .and_then(|value| value.as_str())
            .unwrap_or("?");
        lines.push(("dev server", state.to_owned()));
    }
    if let Some(runtime) = &preview.runtime {
        let mut text = [
            runtime.framework.as_deref(),
            runtime.package_manager.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        if !text.is_empty() {
            text.push_str(" · ");
        }
        text.push_str(&runtime.dev_command);
        lines.push(("runtime", text));
    }
    lines.push(("idle for", idle_for(&preview.last_activity_at, now)));
    lines.push((
        "error",
        preview.error.clone().unwrap_or_else(|| "-".to_owned()),
    ));
    let steps: Vec<String> = preview
        .steps
        .iter()
        .map(|step| {
            let status = serde_json::to_value(step.status).ok();
            let status = status
                .as_ref()
                .and_then(|value| value.as_str())
                .unwrap_or("?");
            format!("{} {status}", step.name)
        })
        .collect();
    lines.push(("steps", steps.join(", ")));
    lines.push(("created", preview.created_at.clone()));
    let mut out = String::new();
    for (label, value) in lines {
        let _ = writeln!(out, "{label:<11}{value}");
    }
    out
}

/// The revision an open page shows: `12` once rendered, else how far the
/// newest revision got (`12 error`, `12 compiled`), `-` without a report.
pub fn on_screen(render: Option<&RenderReport>) -> String {
    match render {
        None => "-".to_owned(),
        Some(report) if report.state == RenderState::Rendered => report.revision.to_string(),
        Some(report) => format!("{} {}", report.revision, report.state.as_str()),
    }
}

/// `compile error src/App.jsx:4 Unexpected token`.
pub fn render_error(error: &RenderError) -> String {
    let origin = match error.origin {
        ErrorOrigin::Compile => "compile error",
        ErrorOrigin::Runtime => "runtime error",
        ErrorOrigin::Overlay => "error overlay",
    };
    let place = match (&error.file, error.line) {
        (Some(file), Some(line)) => format!(" {file}:{line}"),
        (Some(file), None) => format!(" {file}"),
        _ => String::new(),
    };
    format!("{origin}{place} {}", error.message)
}

/// How long since `last_activity` (RFC 3339): `45s`, `3m 12s`, `2h 5m`, `4d 3h`.
pub fn idle_for(last_activity: &str, now: OffsetDateTime) -> String {
    let Ok(then) = OffsetDateTime::parse(last_activity, &Rfc3339) else {
        return "?".to_owned();
    };
    let seconds = (now - then).whole_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{minutes}m {}s", seconds % 60),
        3600..86_400 => format!("{}h {minutes}m", seconds / 3600),
        _ => format!("{days}d {hours}h"),
    }
}

/// `2026-11-27T10:02:03.412Z install     added 212 packages`.
pub fn log_line(line: &LogLine) -> String {
    format!("{} {:<10} {}", line.at, line.source.as_str(), line.text)
}

/// `revision 12: 3 changed (src/App.jsx, src/new.js, deleted src/old.js)`,
/// naming at most four paths.
pub fn revision_line(revision: u64, changes: &[sync_protocol::BatchChange]) -> String {
    const NAMED: usize = 4;
    let mut names: Vec<String> = changes
        .iter()
        .take(NAMED)
        .map(|change| match change.delete {
            Some(true) => format!("deleted {}", change.path),
            _ => change.path.clone(),
        })
        .collect();
    if changes.len() > NAMED {
        names.push(format!("{} more", changes.len() - NAMED));
    }
    format!(
        "revision {revision}: {} changed ({})",
        changes.len(),
        names.join(", ")
    )
}

/// Which render verdicts `push --watch` has printed: each revision's
/// `applied`, `on screen` and error once, never one older than the newest printed.
#[derive(Debug)]
pub struct RenderLines {
    since: u64,
    printed: Option<(u64, RenderState)>,
}

impl RenderLines {
    /// Verdicts about revisions before `since` are not this session's.
    pub fn new(since: u64) -> RenderLines {
        RenderLines {
            since,
            printed: None,
        }
    }

    /// The line to print for `report`, if it says something new.
    pub fn line(&mut self, report: &RenderReport) -> Option<String> {
        let key = (report.revision, report.state);
        let older = self
            .printed
            .is_some_and(|(revision, _)| report.revision < revision);
        if report.revision < self.since || older || self.printed == Some(key) {
            return None;
        }
        let line = match (&report.state, &report.error) {
            (RenderState::Applied, _) => format!("revision {} applied", report.revision),
            (RenderState::Rendered, _) => format!("revision {} on screen", report.revision),
            (RenderState::Error, Some(error)) => {
                format!("revision {}: {}", report.revision, render_error(error))
            }
            (RenderState::Error, None) => format!("revision {}: error", report.revision),
            (RenderState::Compiled, _) => return None,
        };
        self.printed = Some(key);
        Some(line)
    }
}

fn number(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
