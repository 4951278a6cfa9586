//! How the local driver runs previews, and how `serve` fills that in from
//! its flags.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::default_daemon_bin;
use crate::config::ServeArgs;
use crate::local::sandbox::{self, PreviewSandbox};

/// How the local driver runs previews.
#[derive(Clone, Debug)]
pub struct LocalDriverConfig {
    /// `<data-dir>/previews`: one work dir per app below it.
    pub previews_root: PathBuf,
    pub sync_daemon_bin: PathBuf,
    /// The dev server command each daemon supervises (`--exec`; `auto` detects it).
    pub exec: String,
    /// The daemon's `--install` command; detected from the lockfile when unset.
    pub install: Option<String>,
    /// The package cache all previews share (see [`package_cache_env`]).
    pub package_cache: PathBuf,
    /// The provisioner's port, which serves `preview-<appId>.localhost`.
    pub proxy_port: u16,
    /// Where daemons reach this provisioner now. Overrides the URL a preview
    /// was provisioned with, which a restart on another port makes stale.
    pub server_url: Option<String>,
    /// How long a daemon gets to stop its dev server before its tree is killed.
    pub stop_grace: Duration,
    /// Whether each daemon runs the app's commands under bubblewrap.
    pub sandbox: PreviewSandbox,
}

impl LocalDriverConfig {
    /// The configuration `serve` runs with; `proxy_port` is the port it bound.
    pub fn from_args(args: &ServeArgs, proxy_port: u16) -> anyhow::Result<LocalDriverConfig> {
        // The daemons run in their work dirs, so every path they get is absolute.
        let previews_root = std::path::absolute(args.store.data_dir.join("previews"))
            .context("failed to resolve the data dir")?;
        let sync_daemon_bin = match &args.local.sync_daemon_bin {
            Some(path) => {
                std::path::absolute(path).context("failed to resolve --sync-daemon-bin")?
            }
            None => default_daemon_bin(),
        };
        let sandbox = sandbox::decide(
            sandbox::probe_bubblewrap(),
            args.local.allow_unsandboxed_previews,
        )
        .map_err(anyhow::Error::msg)?;
        match sandbox {
            PreviewSandbox::Bubblewrap => {
                tracing::info!("local previews run sandboxed by bubblewrap");
            }
            PreviewSandbox::Unsandboxed => tracing::warn!(
                "bubblewrap is not usable here: local previews run UNSANDBOXED, with this \
                 user's rights (--allow-unsandboxed-previews)"
            ),
        }
        Ok(LocalDriverConfig {
            previews_root,
            sync_daemon_bin,
            exec: args.local.local_exec.clone(),
            install: args.local.local_install.clone(),
            package_cache: std::path::absolute(
                args.local
                    .local_package_cache
                    .clone()
                    .unwrap_or_else(|| args.store.data_dir.join("package-cache")),
            )
            .context("failed to resolve --local-package-cache")?,
            proxy_port,
            server_url: Some(args.http.public_url.clone().unwrap_or_else(|| {
                let host = match args.http.listen.ip() {
                    ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
                    ip if ip.is_ipv6() => format!("[{ip}]"),
                    ip => ip.to_string(),
                };
                format!("http://{host}:{proxy_port}")
            })),
            stop_grace: Duration::from_secs(5),
            sandbox,
        })
    }
}

/// The environment that points every package manager at the shared cache:
/// npm's cache (read offline first), pnpm's store, yarn's and bun's caches.
/// Each tool locks its own cache, so concurrent installs are safe.
pub fn package_cache_env(cache: &std::path::Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("npm_config_cache", cache.join("npm")),
        ("npm_config_store_dir", cache.join("pnpm-store")),
        ("YARN_CACHE_FOLDER", cache.join("yarn")),
        ("BUN_INSTALL_CACHE_DIR", cache.join("bun")),
    ]
}

/// The daemon's `PREVIEW_EDITOR_ORIGINS`: the operator's (`configured`, as
/// set in the provisioner's environment) plus this provisioner's own
/// origins, where the playground page frames previews and listens to their
/// page events.
pub fn editor_origins(configured: Option<&str>, proxy_port: u16) -> String {
    let mut origins: Vec<String> = configured
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(str::to_owned)
        .collect();
    for own in [
        format!("http://127.0.0.1:{proxy_port}"),
        format!("http://localhost:{proxy_port}"),
    ] {
        if !origins.contains(&own) {
            origins.push(own);
        }
    }
    origins.join(",")
}

#[cfg(test)]
mod tests {
    use super::editor_origins;

    #[test]
    fn previews_post_their_events_to_the_playground_and_to_the_configured_editors() {
        let cases = [
            (None, "http://127.0.0.1:8080,http://localhost:8080"),
            (
                Some("https://editor.example, "),
                "https://editor.example,http://127.0.0.1:8080,http://localhost:8080",
            ),
            (
                Some("http://localhost:8080"),
                "http://localhost:8080,http://127.0.0.1:8080",
            ),
        ];
        for (configured, expected) in cases {
            assert_eq!(editor_origins(configured, 8080), expected, "{configured:?}");
        }
    }
}
