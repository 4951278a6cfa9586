//! What an app's daemon reads of its app's settings
//! (`GET /v1/apps/{appId}/sync-settings`, with the app's sync token). The
//! operator's view (`GET /v1/apps/{appId}/settings`) never shows `env`
//! values; the daemon gets them because it must pass them to the app.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::access::Visibility;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonSettings {
    /// Replaces the detected (or `--install`) install command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_command: Option<String>,
    /// Replaces the detected (or `--exec`) dev command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_command: Option<String>,
    /// The port the app's dev server listens on, when it insists on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Extra environment for the install and the dev server.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub access: DaemonAccess,
}

/// Who may see the preview, and the app's own key to check links with.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonAccess {
    pub visibility: Visibility,
    /// Hex [`crate::access::AccessKey`] of this app, when private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The `frame-ancestors` sources allowed to frame the preview, when the
    /// operator restricts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_ancestors: Option<String>,
}
