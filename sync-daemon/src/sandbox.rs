//! The sandbox the app's own code runs in (`--sandbox`): its install and its
//! dev server run under bubblewrap (`bwrap`), in a private PID namespace (no
//! other process visible in `/proc`), with the system read-only, its own
//! `/tmp`, its own home (a per-app package cache), and one writable place:
//! the synced tree, mounted at `/app`. Nothing else of the host is mounted:
//! not the daemon's state dir, not the provisioner's data dir, not other
//! previews. The daemon itself stays outside and keeps the sync token.
//!
//! Inside, the tree is `/app` whatever its path on the host, so the dev
//! server's error pages and stack traces never show the host's directories.
//!
//! The network is shared: the dev server listens on the host's loopback,
//! where the edge proxy reaches it, and an install downloads packages.

use std::path::{Path, PathBuf};

use tokio::process::Command;

/// Where the synced tree appears inside the sandbox.
pub const APP_DIR_INSIDE: &str = "/app";
/// The sandbox's home: npm's cache and config live under it.
const HOME_INSIDE: &str = "/home/app";
/// The system directories mounted read-only (each only if it exists).
const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"];
/// What programs need from `/etc` (name resolution, TLS roots, users), read-only;
/// the rest of `/etc` is left out, in case an operator keeps a secret there.
const ETC_FILES: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
];
/// The environment inside: nothing of the daemon's is passed on.
const PATH_INSIDE: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A sandbox for one app's commands.
#[derive(Clone, Debug)]
pub struct Sandbox {
    /// The `bwrap` binary.
    pub program: PathBuf,
    /// The synced tree on the host, mounted writable at [`APP_DIR_INSIDE`].
    pub app_dir: PathBuf,
    /// A directory of the app's own on the host, mounted as its home.
    pub home_dir: PathBuf,
}

impl Sandbox {
    /// `sh -c command` inside the sandbox, with `environment` set.
    pub fn command(&self, command: &str, environment: &[(&str, String)]) -> Command {
        let mut wrapped = Command::new(&self.program);
        wrapped.args(self.arguments(command, environment));
        wrapped
    }

    /// bwrap's arguments, for `command` run by `sh -c`.
    pub fn arguments(&self, command: &str, environment: &[(&str, String)]) -> Vec<String> {
        let mut arguments: Vec<String> = [
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--clearenv",
        ]
        .map(str::to_owned)
        .to_vec();
        for dir in SYSTEM_DIRS.iter().chain(ETC_FILES) {
            push(&mut arguments, &["--ro-bind-try", dir, dir]);
        }
        push(
            &mut arguments,
            &["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
        );
        let app_dir = self.app_dir.display().to_string();
        let home_dir = self.home_dir.display().to_string();
        push(
            &mut arguments,
            &[
                "--bind",
                &app_dir,
                APP_DIR_INSIDE,
                "--bind",
                &home_dir,
                HOME_INSIDE,
                "--chdir",
                APP_DIR_INSIDE,
            ],
        );
        for (name, value) in [
            ("PATH", PATH_INSIDE),
            ("HOME", HOME_INSIDE),
            ("TMPDIR", "/tmp"),
            ("LANG", "C.UTF-8"),
        ] {
            push(&mut arguments, &["--setenv", name, value]);
        }
        for (name, value) in environment {
            push(&mut arguments, &["--setenv", name, value]);
        }
        push(&mut arguments, &["--", "sh", "-c", command]);
        arguments
    }
}

fn push(arguments: &mut Vec<String>, more: &[&str]) {
    arguments.extend(more.iter().map(|argument| (*argument).to_owned()));
}

/// `bwrap` on `PATH`, if installed.
pub fn find_bwrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> Sandbox {
        Sandbox {
            program: PathBuf::from("/usr/bin/bwrap"),
            app_dir: PathBuf::from("/data/previews/shop/app"),
            home_dir: PathBuf::from("/data/previews/shop/.app.sync/home"),
        }
    }

    /// The value after each occurrence of `flag`.
    fn after<'a>(arguments: &'a [String], flag: &str) -> Vec<&'a str> {
        arguments
            .windows(2)
            .filter(|pair| pair[0] == flag)
            .map(|pair| pair[1].as_str())
            .collect()
    }

    #[test]
    fn only_the_app_dir_and_its_home_are_writable_and_the_app_sees_itself_at_slash_app() {
        let arguments = sandbox().arguments("npm run dev", &[("PORT", "4100".to_owned())]);
        assert_eq!(
            after(&arguments, "--bind"),
            [
                "/data/previews/shop/app",
                "/data/previews/shop/.app.sync/home"
            ]
        );
        let bound: Vec<&str> = arguments
            .windows(3)
            .filter(|triple| triple[0] == "--bind")
            .map(|triple| triple[2].as_str())
            .collect();
        assert_eq!(bound, [APP_DIR_INSIDE, HOME_INSIDE]);
        assert_eq!(after(&arguments, "--chdir"), [APP_DIR_INSIDE]);
        assert!(
            !arguments
                .iter()
                .any(|argument| argument == "/" || argument == "/data"),
            "nothing above the app dir is mounted: {arguments:?}"
        );
        for read_only in after(&arguments, "--ro-bind-try") {
            assert!(
                SYSTEM_DIRS.contains(&read_only) || ETC_FILES.contains(&read_only),
                "{read_only}"
            );
        }
    }

    #[test]
    fn the_command_runs_in_private_namespaces_with_a_clean_environment() {
        let arguments = sandbox().arguments("npm run dev", &[("PORT", "4100".to_owned())]);
        for flag in [
            "--unshare-pid",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ] {
            assert!(arguments.iter().any(|argument| argument == flag), "{flag}");
        }
        assert_eq!(after(&arguments, "--tmpfs"), ["/tmp"]);
        assert_eq!(after(&arguments, "--proc"), ["/proc"]);
        let set: Vec<&str> = after(&arguments, "--setenv");
        assert_eq!(set, ["PATH", "HOME", "TMPDIR", "LANG", "PORT"]);
        assert!(
            !arguments
                .iter()
                .any(|argument| argument.contains("SYNC_TOKEN"))
        );
        assert_eq!(
            &arguments[arguments.len() - 4..],
            ["--", "sh", "-c", "npm run dev"]
        );
    }
}
