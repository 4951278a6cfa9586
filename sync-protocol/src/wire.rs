//! JSON bodies and header names of the files API (`/v1/apps/{appId}/...`).

use serde::{Deserialize, Serialize};

use crate::FilePath;

/// Response header carrying the app's current files revision.
pub const REVISION_HEADER: &str = "x-revision";
/// Response header of every manifest answer (304s too) naming the store
/// that answered: see [`ManifestResponse::store_id`].
pub const STORE_ID_HEADER: &str = "x-store-id";
/// The longest `wait` a long-poll may ask for, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 60;

/// One file of a manifest.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: FilePath,
    /// Lower-case hex sha256 of the content.
    pub sha256: String,
    pub size: u64,
}

/// `GET /v1/apps/{appId}/files[?since=N[&wait=S]]`.
///
/// Without `since`, or when `since` is older than the history kept (or newer
/// than the app's revision), `full` is true and `files` is the whole manifest.
/// Otherwise `full` is false, `files` holds the entries added or changed after
/// `since` and `deleted` the paths removed after it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestResponse {
    /// The identity of the store that answered, made once with it. Revisions
    /// count within one store: a client holding revisions of another store
    /// (a lost data dir, a new database behind the same URL) must fetch the
    /// full manifest instead of trusting its `since`. Empty from a server
    /// that predates it.
    #[serde(default)]
    pub store_id: String,
    pub revision: u64,
    #[serde(default = "full_by_default")]
    pub full: bool,
    pub files: Vec<FileEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<FilePath>,
    /// With `inline=true` on a delta: the content of the small files of
    /// `files` (each at most [`MAX_INLINE_FILE_BYTES`], together at most
    /// [`MAX_INLINE_BYTES`]), so a client needs no second request for a
    /// saved file. A client still verifies each against its sha256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contents: Vec<InlineContent>,
}

/// One content carried in a delta answer (see [`ManifestResponse::contents`]).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InlineContent {
    /// Lower-case hex sha256 of the content.
    pub sha256: String,
    pub content_base64: String,
}

/// The largest file whose content a delta answer carries inline.
pub const MAX_INLINE_FILE_BYTES: u64 = 16 * 1024;
/// The most content bytes (before base64) one delta answer carries inline.
pub const MAX_INLINE_BYTES: u64 = 64 * 1024;

fn full_by_default() -> bool {
    true
}

/// `POST /v1/apps/{appId}/files`: all changes apply in one revision, or none.
/// An unknown field is refused rather than ignored: a misspelt one would
/// otherwise silently change what the batch means.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub changes: Vec<BatchChange>,
}

/// One change of a batch: exactly one of `content`, `content_base64` or
/// `delete: true`. Paths stay strings here so that a refusal can name the
/// offending change by index and path.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchChange {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<bool>,
}

/// Answer to a write (`PUT`, `DELETE` or batch `POST` of files).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResponse {
    /// The revision that holds the write. Equal to the previous revision when
    /// the write changed nothing (same content saved again).
    pub revision: u64,
    /// How many files the write added, changed or deleted.
    pub changed: u64,
}

/// `POST /v1/apps/{appId}/blobs`: several blobs in one response, for the
/// daemon's initial sync. The answer is the blobs' bytes concatenated in the
/// order asked; the caller knows each size and sha256 from the manifest and
/// verifies every one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlobBatchRequest {
    pub sha256: Vec<String>,
}

/// The most blobs one `POST /blobs` may ask for.
pub const MAX_BLOBS_PER_BATCH: usize = 1000;

/// `POST /v1/apps/{appId}/sync-token`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SyncTokenResponse {
    pub token: String,
}

/// `POST /v1/apps/{appId}/sync-status`: what the daemon has applied.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatusReport {
    /// The files revision now on disk.
    pub revision: u64,
    pub dev_server: DevServerState,
    /// A short human-readable note (last error, say); never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the daemon detected and chose to run the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeReport>,
    /// Seconds since the preview's gateway last served a visitor (its health
    /// route aside): the provisioner counts a visit as activity, since a
    /// platform proxy's own idle stop is off and sees nothing on its behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visited_secs_ago: Option<u64>,
    /// What the preview shows for `render.revision` (see [`crate::render`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render: Option<crate::render::RenderReport>,
}

/// How a preview runs its app: what was detected from the app's files (or
/// given explicitly) and the ports in play. Shown in the preview resource
/// under `runtime`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeReport {
    /// `vite-react`, `next`, `nuxt`, `node`, ...; `None` when not recognised.
    pub framework: Option<String>,
    /// `npm`, `pnpm`, `yarn` or `bun`; `None` without a `package.json`.
    pub package_manager: Option<String>,
    pub install_command: Option<String>,
    pub dev_command: String,
    /// The private loopback port the dev server was told to use.
    pub dev_port: u16,
    /// The port it answered on (the gateway forwards there); `None` until it answered.
    pub upstream_port: Option<u16>,
    /// The port the preview's gateway listens on.
    pub gateway_port: u16,
}

/// The dev server as the daemon supervising it sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DevServerState {
    /// The daemon runs without `--exec`.
    None,
    Installing,
    Starting,
    /// It answered an HTTP request; the gateway forwards to it.
    Ready,
    Crashed,
    /// Its process runs but has not answered HTTP within the daemon's
    /// bound; the message carries its last output.
    Unresponsive,
    Stopped,
}

/// Every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `path_invalid`, `file_too_large`, ...
    pub code: String,
    /// Says what to change.
    pub message: String,
}
