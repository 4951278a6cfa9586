//! Per-app settings (`GET`/`PATCH /v1/apps/{appId}/settings`) and private
//! previews (`POST /v1/apps/{appId}/preview-links`).
//!
//! Settings are what an editor knows about an app that its files do not say:
//! the commands to install and run it, the port it insists on, its
//! environment (write-only: the API never shows a value back, only the
//! app's daemon reads them, with its sync token), and who may see it. The
//! daemon reads them before each start of the dev server; detection fills
//! in whatever is not set.
//!
//! A private preview's links are signed with a key derived per app from the
//! deployment's secret (`sync_protocol::access`), so the provisioner keeps
//! one secret and each checker (the edge proxy here, the gateway in a Fly
//! machine) holds only its app's key. Revoking every link is a new key
//! generation, kept with the settings.

mod model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sync_protocol::AppId;
use sync_protocol::access::{AccessKey, Visibility};
use sync_protocol::settings::{DaemonAccess, DaemonSettings};

pub use model::{AppSettings, SettingsError, SettingsView, apply_patch};

use crate::store::StoreError;
use crate::store::settings::AppSettingsStore;

/// Shortest and longest life of a preview link.
pub const LINK_TTL: std::ops::RangeInclusive<u64> = 60..=30 * 86_400;
/// How long the edge proxy may use an app's access without reading it again.
const ACCESS_CACHE_FOR: Duration = Duration::from_secs(2);
/// Attempts at a `PATCH` that keeps meeting concurrent ones.
const PATCH_ATTEMPTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum SettingsFailure {
    #[error(transparent)]
    Refused(#[from] SettingsError),
    #[error("ttl_seconds must be from {} to {} (seconds)", LINK_TTL.start(), LINK_TTL.end())]
    TtlOutOfRange,
    #[error("the settings kept changing under this request; send it again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The deployment's secret that every app's access key derives from.
/// Debug-printing it never shows it.
#[derive(Clone)]
pub struct AccessSecret(Arc<Vec<u8>>);

impl AccessSecret {
    pub fn new(secret: &str) -> AccessSecret {
        AccessSecret(Arc::new(secret.as_bytes().to_vec()))
    }
}

impl std::fmt::Debug for AccessSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("AccessSecret(..)")
    }
}

/// A link that lets a browser into a private preview.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PreviewLink {
    pub url: String,
    /// Also a bearer token (`Authorization: Bearer <token>`) for non-browser clients.
    pub token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// An app's access as last read, and when.
type CachedAccess = (Instant, Visibility, Option<AccessKey>);

#[derive(Clone)]
pub struct SettingsService {
    store: Arc<dyn AppSettingsStore>,
    secret: AccessSecret,
    default_visibility: Visibility,
    frame_ancestors: Option<String>,
    access_cache: Arc<Mutex<HashMap<AppId, CachedAccess>>>,
}

impl SettingsService {
    pub fn new(
        store: Arc<dyn AppSettingsStore>,
        secret: AccessSecret,
        default_visibility: Visibility,
        frame_ancestors: Option<String>,
    ) -> SettingsService {
        SettingsService {
            store,
            secret,
            default_visibility,
            frame_ancestors,
            access_cache: Arc::default(),
        }
    }

    async fn load(&self, app_id: &AppId) -> Result<(AppSettings, Option<u64>), StoreError> {
        Ok(match self.store.app_settings(app_id).await? {
            Some((settings, version)) => (settings, Some(version)),
            None => (AppSettings::default(), None),
        })
    }

    pub async fn view(&self, app_id: &AppId) -> Result<SettingsView, SettingsFailure> {
        Ok(self.load(app_id).await?.0.view(self.default_visibility))
    }

    /// Applies a merge patch, retrying when another one saved in between.
    pub async fn patch(
        &self,
        app_id: &AppId,
        patch: &Map<String, Value>,
    ) -> Result<SettingsView, SettingsFailure> {
        self.update(app_id, |current| Ok(apply_patch(current, patch)?))
            .await
            .map(|settings| settings.view(self.default_visibility))
    }

    /// Revokes every link and cookie made for the app so far.
    pub async fn rotate_access(&self, app_id: &AppId) -> Result<(), SettingsFailure> {
        self.update(app_id, |current| {
            Ok(AppSettings {
                access_generation: current.access_generation + 1,
                ..current.clone()
            })
        })
        .await
        .map(drop)
    }

    async fn update(
        &self,
        app_id: &AppId,
        change: impl Fn(&AppSettings) -> Result<AppSettings, SettingsFailure>,
    ) -> Result<AppSettings, SettingsFailure> {
        for _ in 0..PATCH_ATTEMPTS {
            let (current, version) = self.load(app_id).await?;
            let next = change(&current)?;
            if next == current && version.is_some() {
                return Ok(next);
            }
            if self.store.save_app_settings(app_id, &next, version).await? {
                self.forget_access(app_id);
                return Ok(next);
            }
        }
        Err(SettingsFailure::Contended)
    }

    /// A link to the preview at `preview_url`, valid for `ttl_seconds`.
    pub async fn mint_link(
        &self,
        app_id: &AppId,
        preview_url: &str,
        ttl_seconds: u64,
        now: time::OffsetDateTime,
    ) -> Result<PreviewLink, SettingsFailure> {
        if !LINK_TTL.contains(&ttl_seconds) {
            return Err(SettingsFailure::TtlOutOfRange);
        }
        let (settings, _) = self.load(app_id).await?;
        let expires = u64::try_from(now.unix_timestamp()).unwrap_or(0) + ttl_seconds;
        let token = self
            .key(app_id, settings.access_generation)
            .sign(app_id, expires);
        Ok(PreviewLink {
            url: format!(
                "{}{}?token={token}",
                preview_url.trim_end_matches('/'),
                sync_protocol::access::ACCESS_PATH
            ),
            token,
            expires_at: now + Duration::from_secs(ttl_seconds),
        })
    }

    /// What the app's daemon reads: every value, and its key when private.
    pub async fn for_daemon(&self, app_id: &AppId) -> Result<DaemonSettings, SettingsFailure> {
        let (settings, _) = self.load(app_id).await?;
        let visibility = settings.visibility.unwrap_or(self.default_visibility);
        Ok(DaemonSettings {
            install_command: settings.install_command,
            dev_command: settings.dev_command,
            port: settings.port,
            env: settings.env,
            access: DaemonAccess {
                visibility,
                key: (visibility == Visibility::Private)
                    .then(|| self.key(app_id, settings.access_generation).to_hex()),
                frame_ancestors: self.frame_ancestors.clone(),
            },
        })
    }

    /// Who may see the app's preview, for the edge proxy; read at most every
    /// [`ACCESS_CACHE_FOR`] per app (at once after a change made here).
    pub async fn access(
        &self,
        app_id: &AppId,
    ) -> Result<(Visibility, Option<AccessKey>), StoreError> {
        if let Some((at, visibility, key)) = self.cached_access(app_id)
            && at.elapsed() < ACCESS_CACHE_FOR
        {
            return Ok((visibility, key));
        }
        let (settings, _) = self.load(app_id).await?;
        let visibility = settings.visibility.unwrap_or(self.default_visibility);
        let key = (visibility == Visibility::Private)
            .then(|| self.key(app_id, settings.access_generation));
        let mut cache = self.access_cache.lock().expect("access cache poisoned");
        // Bounded: a stranger asking for many app hosts cannot grow it.
        if cache.len() >= 10_000 {
            cache.clear();
        }
        cache.insert(app_id.clone(), (Instant::now(), visibility, key.clone()));
        Ok((visibility, key))
    }

    fn cached_access(&self, app_id: &AppId) -> Option<CachedAccess> {
        let cache = self.access_cache.lock().expect("access cache poisoned");
        cache.get(app_id).cloned()
    }

    fn forget_access(&self, app_id: &AppId) {
        self.access_cache
            .lock()
            .expect("access cache poisoned")
            .remove(app_id);
    }

    fn key(&self, app_id: &AppId, generation: u64) -> AccessKey {
        AccessKey::derive(&self.secret.0, app_id, generation)
    }
}
