//! The preview's logs on the wire: what the daemon ships
//! (`POST /v1/apps/{appId}/logs`, a [`LogBatch`] of [`ShippedLine`]s) and
//! what an operator reads back (`GET .../logs`, a [`LogPage`]; `GET
//! .../logs/stream`, one [`LogLine`] per server-sent event, its `id` the
//! line's cursor).
//!
//! A line is one line of output: ANSI escapes and control characters are
//! removed by the daemon, and it is at most [`MAX_LINE_BYTES`] long, so a
//! kept tail of lines is bounded in bytes by its number of lines.

use serde::{Deserialize, Serialize};

/// Longer lines are cut to this many bytes (on a character boundary) by the
/// daemon, and refused by the provisioner.
pub const MAX_LINE_BYTES: usize = 400;
/// The most lines one `POST .../logs` may carry. A daemon sends at most
/// four batches a second, so a preview's log takes in at most 4,000 lines
/// a second, and one append holds the store's write lock briefly.
pub const MAX_BATCH_LINES: usize = 1000;

/// Who printed a line.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// The dependency install (`npm install`, ...).
    Install,
    /// The dev server (Vite, Next.js, ...), stdout and stderr.
    DevServer,
    /// The sync daemon's own account of what it does (restarts, rebuilds).
    Daemon,
    /// The preview gateway in front of the dev server.
    Gateway,
}

impl LogSource {
    /// The name the API uses, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LogSource::Install => "install",
            LogSource::DevServer => "dev_server",
            LogSource::Daemon => "daemon",
            LogSource::Gateway => "gateway",
        }
    }

    pub fn parse(text: &str) -> Option<LogSource> {
        [
            LogSource::Install,
            LogSource::DevServer,
            LogSource::Daemon,
            LogSource::Gateway,
        ]
        .into_iter()
        .find(|source| source.as_str() == text)
    }
}

/// One line as the daemon ships it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedLine {
    /// When the daemon read it, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub source: LogSource,
    pub text: String,
}

/// The body of `POST /v1/apps/{appId}/logs`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogBatch {
    pub lines: Vec<ShippedLine>,
}

/// One line as an operator reads it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    pub source: LogSource,
    pub text: String,
}

/// The answer of `GET /v1/apps/{appId}/logs?since=<cursor>`: the lines after
/// `since`, oldest first, and the cursor to ask from next.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    pub cursor: u64,
}

/// Cuts `text` to at most [`MAX_LINE_BYTES`], on a character boundary.
pub fn cut_line(text: &mut String) {
    cut_to(text, MAX_LINE_BYTES);
}

/// Cuts `text` to at most `bytes`, on a character boundary.
pub fn cut_to(text: &mut String, bytes: usize) {
    if text.len() <= bytes {
        return;
    }
    let mut cut = bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_through_their_api_names() {
        for source in [
            LogSource::Install,
            LogSource::DevServer,
            LogSource::Daemon,
            LogSource::Gateway,
        ] {
            let json = serde_json::to_value(source).unwrap();
            assert_eq!(json, source.as_str());
            assert_eq!(LogSource::parse(source.as_str()), Some(source));
        }
        assert_eq!(LogSource::parse("dev-server"), None);
    }

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        let mut text = "é".repeat(MAX_LINE_BYTES);
        cut_line(&mut text);
        assert!(text.len() <= MAX_LINE_BYTES && text.len() >= MAX_LINE_BYTES - 1);
        assert!(text.ends_with('é'));
        let mut short = "short".to_owned();
        cut_line(&mut short);
        assert_eq!(short, "short");
    }
}
