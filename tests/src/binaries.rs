//! Where the workspace's binaries are, and a free loopback port: written
//! once for the end-to-end tests, the examples and the benchmarks.
//!
//! Tests never build other packages' binaries on their own: run
//! `cargo build --workspace --bins` first; a missing binary is an error that
//! says so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The `provisioner` binary beside the running executable, or `PROVISIONER_BIN`.
pub fn provisioner_binary() -> anyhow::Result<PathBuf> {
    workspace_binary("provisioner", "PROVISIONER_BIN")
}

/// The `sync-daemon` binary beside the running executable, or `SYNC_DAEMON_BIN`.
pub fn sync_daemon_binary() -> anyhow::Result<PathBuf> {
    workspace_binary("sync-daemon", "SYNC_DAEMON_BIN")
}

/// A binary of this workspace: the path in `override_var` when set, else
/// `name` in the profile directory (`target/<profile>`) the running
/// executable belongs to, whether it is a test (`target/<profile>/deps/..`)
/// or an example or binary of its own.
pub fn workspace_binary(name: &str, override_var: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(override_var) {
        return Ok(PathBuf::from(path));
    }
    binary_in(&profile_dir()?, name)
}

/// `name` in `dir`, or an error naming the build command that makes it.
pub fn binary_in(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let binary = dir.join(name);
    if !binary.is_file() {
        bail!(
            "`{}` is missing; run `cargo build --workspace --bins` first",
            binary.display()
        );
    }
    Ok(binary)
}

/// `target/<profile>` of the running executable.
fn profile_dir() -> anyhow::Result<PathBuf> {
    let executable = std::env::current_exe().context("failed to locate the running executable")?;
    let dir = executable
        .parent()
        .context("the running executable has no directory")?;
    // Tests live in `deps/`, examples in `examples/`; binaries at the top.
    let profile = match dir.file_name().and_then(|name| name.to_str()) {
        Some("deps" | "examples") => dir.parent().context("no profile directory")?,
        _ => dir,
    };
    Ok(profile.to_path_buf())
}

/// A loopback port nothing listens on right now (bound, then released).
/// Another process may take it before the caller binds it, so use it only
/// where a port must be named before the listener exists.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("failed to bind a loopback port")
}
