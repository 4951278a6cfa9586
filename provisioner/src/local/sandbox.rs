//! Whether local previews run sandboxed. A preview runs code an AI or a user
//! wrote; on this machine, unsandboxed, that code runs with the provisioner's
//! own rights and could read every app's files, tokens and the operator key.
//! So the local driver runs each preview's install and dev server under
//! bubblewrap (`sync-daemon --sandbox`) whenever bwrap works here, and runs
//! them unsandboxed only when the operator said so with
//! `--allow-unsandboxed-previews`: `serve` refuses to start otherwise.
//!
//! "Works" is probed, not assumed: bwrap on `PATH` can still be unable to
//! create namespaces (a container without the privilege, a kernel that
//! forbids unprivileged user namespaces).

use std::process::{Command, Stdio};

/// How local previews run app code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewSandbox {
    /// Under bubblewrap: own PID namespace, only the app dir writable.
    Bubblewrap,
    /// As the provisioner's user, with no isolation (the operator accepted it).
    Unsandboxed,
}

/// The decision, from what the probe found and what the operator allowed.
pub fn decide(
    probe: Result<(), String>,
    allow_unsandboxed: bool,
) -> Result<PreviewSandbox, String> {
    match (probe, allow_unsandboxed) {
        (Ok(()), _) => Ok(PreviewSandbox::Bubblewrap),
        (Err(_), true) => Ok(PreviewSandbox::Unsandboxed),
        (Err(why), false) => Err(format!(
            "local previews need a sandbox and bubblewrap cannot provide one here ({why}); \
             install it (Debian/Ubuntu: `apt-get install bubblewrap`), or pass \
             --allow-unsandboxed-previews (env PROVISIONER_ALLOW_UNSANDBOXED_PREVIEWS=true) \
             to run preview code with this user's rights: it could then read every app's files, \
             tokens and the operator key"
        )),
    }
}

/// Runs `true` in the namespaces the daemon's sandbox uses.
pub fn probe_bubblewrap() -> Result<(), String> {
    let output = Command::new("bwrap")
        .args([
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|error| format!("`bwrap` could not be run: {error}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!("`bwrap` failed: {}", stderr.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_run_sandboxed_whenever_bubblewrap_works_and_unsandboxed_only_when_allowed() {
        let missing = || Err("`bwrap` could not be run: not found".to_owned());
        let cases = [
            (Ok(()), false, Ok(PreviewSandbox::Bubblewrap)),
            (Ok(()), true, Ok(PreviewSandbox::Bubblewrap)),
            (missing(), true, Ok(PreviewSandbox::Unsandboxed)),
        ];
        for (probe, allowed, expected) in cases {
            assert_eq!(decide(probe, allowed), expected);
        }
        let refused = decide(missing(), false).unwrap_err();
        for named in ["bubblewrap", "--allow-unsandboxed-previews", "not found"] {
            assert!(refused.contains(named), "{refused}");
        }
    }
}
