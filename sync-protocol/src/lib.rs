//! The contract between the provisioner, the sync daemon and their clients.
//!
//! Both binaries depend on this crate so that the manifest shape, the rules a
//! file path or an app id must follow, and the sync-token format are written
//! down exactly once. Nothing here performs I/O.

pub mod access;
mod app_id;
pub mod controls;
mod duration;
mod file_path;
pub mod logs;
#[cfg(feature = "openapi")]
mod openapi;
mod preview;
pub mod render;
pub mod settings;
mod token;
mod wire;

pub use app_id::{AppId, AppIdError};
pub use duration::parse_duration;
pub use file_path::{FilePath, MAX_PATH_BYTES, MAX_SEGMENT_BYTES, PathError};
pub use preview::{PreviewResponse, PreviewState, PreviewStep, StepStatus};
pub use token::{SyncToken, TokenError};
pub use wire::*;

use sha2::{Digest, Sha256};

/// Lower-case hex sha256 of `content`, the identity of a blob everywhere.
pub fn sha256_hex(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// Whether `text` looks like a sha256 as this protocol spells it (64 lower-case hex digits).
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
