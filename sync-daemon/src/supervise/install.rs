//! Dependency installs: run the install command until it succeeds whenever
//! `package.json` or a lockfile differs from what the last successful
//! install saw (recorded as a sha256 in the state dir).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sync_protocol::DevServerState;
use tokio::sync::watch;

use super::launch::Launch;
use super::process::{Group, describe_exit};
use super::{Context, last_output, stopping};
use crate::backoff::Backoff;
use crate::error::CriticalError;
use crate::fsio;

/// Files whose change means dependencies must be installed again.
const INSTALL_INPUTS: &[&str] = &[
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lock",
    "bun.lockb",
];

/// Returns false on shutdown.
pub(super) async fn install_if_needed(
    context: &Context,
    plan: &Launch,
    applied: &mut watch::Receiver<Option<u64>>,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<bool, CriticalError> {
    let Some(command) = &plan.install else {
        return Ok(true);
    };
    loop {
        let Some(inputs) = install_inputs(&context.dir) else {
            return Ok(true);
        };
        if recorded_install(&context.state_dir).as_deref() == Some(inputs.as_str()) {
            return Ok(true);
        }
        context
            .board
            .set_dev_server(DevServerState::Installing, None);
        context.note(&format!("installing dependencies: {command}"));
        let status = match Group::spawn(
            "install",
            command,
            &context.dir,
            &plan.environment(),
            &context.output,
            context.config.sandbox.as_ref(),
            context.config.run_as.as_ref(),
        ) {
            Ok(mut group) => {
                let status = tokio::select! {
                    status = group.wait() => describe_exit(status),
                    () = stopping(stop) => {
                        group.stop().await;
                        return Ok(false);
                    }
                };
                group.stop().await;
                status
            }
            Err(message) => Err(message),
        };
        if status.is_ok() {
            // Hashed after the install, which may have rewritten the lockfile.
            let record = record_path(&context.state_dir);
            let after = install_inputs(&context.dir).unwrap_or_default();
            fsio::write_atomically(&record, after.as_bytes()).map_err(|source| {
                CriticalError::Io {
                    path: record,
                    source,
                }
            })?;
            backoff.reset();
            context.note("dependencies installed");
            return Ok(true);
        }
        let delay = backoff.next_delay();
        let message = format!(
            "install failed ({}); retrying in {} ms{}",
            status.unwrap_err(),
            delay.as_millis(),
            last_output(&context.output)
        );
        context.crashed(message);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = applied.changed() => {}
            () = stopping(stop) => return Ok(false),
        }
    }
}

/// The sha256 over the dependency files present, or `None` when there is
/// no `package.json` (nothing to install).
pub fn install_inputs(dir: &Path) -> Option<String> {
    if !dir.join("package.json").is_file() {
        return None;
    }
    let mut hasher = Sha256::new();
    for name in INSTALL_INPUTS {
        if let Ok(content) = std::fs::read(dir.join(name)) {
            hasher.update(name.as_bytes());
            hasher.update((content.len() as u64).to_le_bytes());
            hasher.update(&content);
        }
    }
    Some(hex::encode(hasher.finalize()))
}

fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("install.sha256")
}

/// Makes the next start install again, whatever the dependency files.
pub(super) fn forget_install(state_dir: &Path) {
    let _ = std::fs::remove_file(record_path(state_dir));
}

pub(super) fn recorded_install(state_dir: &Path) -> Option<String> {
    std::fs::read_to_string(record_path(state_dir)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_inputs_follow_package_json_and_lockfiles() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            install_inputs(dir.path()),
            None,
            "no package.json, nothing to install"
        );
        std::fs::write(dir.path().join("package.json"), "{}").unwrap();
        let first = install_inputs(dir.path()).unwrap();
        std::fs::write(dir.path().join("src.js"), "unrelated").unwrap();
        assert_eq!(install_inputs(dir.path()).unwrap(), first);
        std::fs::write(dir.path().join("yarn.lock"), "# lock").unwrap();
        assert_ne!(install_inputs(dir.path()).unwrap(), first);
    }
}
