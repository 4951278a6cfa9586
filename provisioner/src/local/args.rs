//! The local platform's flags, flattened into `serve`.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// Local driver: the sync-daemon binary to run for each preview; next to this binary when unset.
    #[arg(long, env = "PROVISIONER_SYNC_DAEMON_BIN")]
    pub sync_daemon_bin: Option<PathBuf>,

    /// Local driver: the dev server command each preview's daemon supervises
    /// behind its gateway; `auto` detects it from each app's files.
    #[arg(long, env = "PROVISIONER_LOCAL_EXEC", default_value = "auto")]
    pub local_exec: String,

    /// Local driver: the install command each preview's daemon runs when
    /// package.json changes; detected from each app's lockfile when unset.
    #[arg(long, env = "PROVISIONER_LOCAL_INSTALL")]
    pub local_install: Option<String>,

    /// Local driver: the package cache unsandboxed previews' installs share
    /// (npm's cache, pnpm's store, yarn's and bun's caches below it), so a
    /// second app with the same dependencies installs from disk; default
    /// `<data-dir>/package-cache`. A sandboxed preview keeps its own cache
    /// in its sandbox home: a cache every preview writes would let one app's
    /// install poison another's.
    #[arg(long, env = "PROVISIONER_LOCAL_PACKAGE_CACHE")]
    pub local_package_cache: Option<PathBuf>,

    /// Local driver: run previews without a sandbox when bubblewrap is not
    /// usable here. Preview code then runs with this user's rights and can
    /// read every app's files, tokens and the operator key.
    #[arg(long, env = "PROVISIONER_ALLOW_UNSANDBOXED_PREVIEWS")]
    pub allow_unsandboxed_previews: bool,
}
