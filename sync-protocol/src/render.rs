//! What a preview shows for a revision: the daemon's verdict after applying
//! it (from the dev server's output and the page's own reports), sent beside
//! the sync status and shown in the preview resource as `render`. The page
//! events (uncaught errors, the framework's overlay, `console.error`, an HMR
//! update applied, navigation) come from the script the preview's gateway
//! injects into HTML pages; the last few travel with the verdict.

use serde::{Deserialize, Serialize};

/// How far revision `revision` got.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderState {
    /// On disk; the dev server has said nothing about it yet.
    Applied,
    /// The dev server built it (Vite's `hmr update`/`page reload`, Next's
    /// `Compiled`); no open page has shown it yet.
    Compiled,
    /// The dev server or the page reported an error for it (`error`).
    Error,
    /// An open page shows it: the HMR update was applied, or the page
    /// loaded it, with no error.
    Rendered,
}

impl RenderState {
    pub fn as_str(self) -> &'static str {
        match self {
            RenderState::Applied => "applied",
            RenderState::Compiled => "compiled",
            RenderState::Error => "error",
            RenderState::Rendered => "rendered",
        }
    }
}

/// Where an error came from.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorOrigin {
    /// The dev server's output (a build or type error).
    Compile,
    /// The page: an uncaught error or unhandled rejection.
    Runtime,
    /// The framework's error overlay in the page.
    Overlay,
}

/// An error with where the framework located it, when it did.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderError {
    pub message: String,
    /// The app-relative path (`src/App.jsx`).
    pub file: Option<String>,
    pub line: Option<u32>,
    pub origin: ErrorOrigin,
}

/// What a page event is about; the `type` of the `postMessage` format too.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageEventType {
    /// An uncaught error (`window.onerror`).
    Error,
    /// An unhandled promise rejection.
    Rejection,
    /// The framework's error overlay appeared (Vite's `vite:error`, Next's dev overlay).
    Overlay,
    /// `console.error` was called.
    ConsoleError,
    /// An HMR update was applied (`vite:afterUpdate`, Next's rebuild done).
    HmrApplied,
    /// The page loaded (first document, or a reload).
    Load,
    /// The page's URL changed (history navigation).
    Navigation,
}

impl PageEventType {
    /// Whether this event reports a problem the render state takes in.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            PageEventType::Error | PageEventType::Rejection | PageEventType::Overlay
        )
    }
}

/// One event an open page reported, tied to the revision the daemon had
/// applied when it arrived.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageEvent {
    #[serde(rename = "type")]
    pub event_type: PageEventType,
    /// The revision the page showed; `None` before any was applied.
    #[serde(default)]
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The page's URL (path and query) when it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// How many page events a report carries at most (the latest).
pub const REPORTED_PAGE_EVENTS: usize = 20;

/// The daemon's render verdict, sent in `SyncStatusReport::render`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderReport {
    pub revision: u64,
    pub state: RenderState,
    pub error: Option<RenderError>,
    /// The last URL an open page reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The latest page events, oldest first, at most [`REPORTED_PAGE_EVENTS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<PageEvent>,
}

/// How a write's `?wait=rendered` ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitOutcome {
    /// The preview shows the revision (or a later one).
    Rendered,
    /// The revision (or a later one) produced `error`.
    Error,
    /// Neither happened within `timeout`; `state` is how far it got.
    Timeout,
    /// No running preview: the answer came at once.
    NoPreview,
}

/// `render` of a write's answer with `?wait=rendered`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderWait {
    pub outcome: WaitOutcome,
    /// The revision the verdict is about: the write's, or a later one.
    pub revision: u64,
    pub state: Option<RenderState>,
    pub error: Option<RenderError>,
    pub waited_ms: u64,
    /// What happened, in words.
    pub message: String,
}

/// A write's answer with `?wait=rendered`: the usual fields and `render`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenAndRendered {
    #[serde(flatten)]
    pub write: crate::WriteResponse,
    pub render: RenderWait,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_as_documented() {
        let report = RenderReport {
            revision: 7,
            state: RenderState::Error,
            error: Some(RenderError {
                message: "Unexpected token".to_owned(),
                file: Some("src/App.jsx".to_owned()),
                line: Some(12),
                origin: ErrorOrigin::Compile,
            }),
            url: None,
            events: vec![PageEvent {
                event_type: PageEventType::ConsoleError,
                revision: Some(7),
                message: Some("oops".to_owned()),
                file: None,
                line: None,
                url: Some("/".to_owned()),
            }],
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "revision": 7,
                "state": "error",
                "error": {"message": "Unexpected token", "file": "src/App.jsx", "line": 12, "origin": "compile"},
                "events": [{"type": "console-error", "revision": 7, "message": "oops", "url": "/"}],
            })
        );
        assert_eq!(
            serde_json::from_value::<RenderReport>(json).unwrap(),
            report
        );
    }
}
