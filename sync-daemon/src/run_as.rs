//! `--run-as USER`: the app's install and dev server run as another user
//! than the daemon. On Fly each preview is its own VM with no bubblewrap
//! sandbox around the app; there the daemon holds the sync token in its
//! environment, and a process of the same user could read it from
//! `/proc/<daemon>/environ` (or the daemon's state dir). Run as another user,
//! the app's code can read neither: `/proc/<pid>/environ` is readable by the
//! process's own user only, and the state dir is made the daemon's alone.
//!
//! The switch is made in the child between fork and exec (`setgid`,
//! supplementary groups dropped, `setuid`), which needs the rights to change
//! user: root, or `CAP_SETUID` and `CAP_SETGID`. Without them, or for a user
//! that would not separate anything (root, or the daemon's own user), the
//! daemon refuses to start and says why.

use std::path::PathBuf;

/// The user the app's commands run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// The user's home, given to the app as `HOME`.
    pub home: PathBuf,
}

/// What the daemon's own process may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rights {
    pub uid: u32,
    /// Whether it holds both `CAP_SETUID` and `CAP_SETGID`.
    pub can_change_user: bool,
}

/// Finds `user` (a name, or a numeric uid) in the text of `/etc/passwd`.
pub fn find_account(passwd: &str, user: &str) -> Option<RunAs> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let [name, _, uid, gid, _, home, ..] = fields.as_slice() else {
            return None;
        };
        if *name != user && *uid != user {
            return None;
        }
        Some(RunAs {
            name: (*name).to_owned(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: PathBuf::from(home),
        })
    })
}

/// Whether `CapEff` (hex, as `/proc/self/status` shows it) holds
/// `CAP_SETGID` (bit 6) and `CAP_SETUID` (bit 7).
pub fn can_change_user(cap_eff_hex: &str) -> bool {
    const SETGID_AND_SETUID: u64 = (1 << 6) | (1 << 7);
    u64::from_str_radix(cap_eff_hex.trim(), 16)
        .is_ok_and(|capabilities| capabilities & SETGID_AND_SETUID == SETGID_AND_SETUID)
}

/// Decides `--run-as user`: the account to switch to, or why not.
pub fn decide(user: &str, account: Option<RunAs>, rights: Rights) -> Result<RunAs, String> {
    let Some(account) = account else {
        return Err(format!(
            "--run-as {user}: no such user in /etc/passwd; create it (e.g. `useradd app`) or name another"
        ));
    };
    if account.uid == 0 {
        return Err(format!(
            "--run-as {user} is root: the app would have every right the daemon has; name an unprivileged user"
        ));
    }
    if account.uid == rights.uid {
        return Err(format!(
            "--run-as {user} is the daemon's own user (uid {}): the app could read the daemon's token; run the daemon as another user (root in the runtime image)",
            rights.uid
        ));
    }
    if !rights.can_change_user {
        return Err(format!(
            "--run-as {user} needs the right to change user (root, or CAP_SETUID and CAP_SETGID); the daemon runs as uid {} without it: start it as root or drop --run-as",
            rights.uid
        ));
    }
    Ok(account)
}

/// The daemon's own rights, from `/proc/self/status`.
pub fn own_rights() -> Rights {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    // `Uid:` lists real, effective, saved and filesystem ids: the effective one decides.
    let uid = field("Uid:")
        .split_whitespace()
        .nth(1)
        .and_then(|uid| uid.parse().ok())
        .unwrap_or(u32::MAX);
    Rights {
        uid,
        can_change_user: can_change_user(&field("CapEff:")),
    }
}

/// Resolves and checks `--run-as user` on this machine.
pub fn resolve(user: &str) -> Result<RunAs, String> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    decide(user, find_account(&passwd, user), own_rights())
}

/// Makes `command` run as `run_as`: its user and group (supplementary groups
/// dropped by the standard library when the daemon is root), and its home.
pub fn apply(command: &mut tokio::process::Command, run_as: &RunAs) {
    command
        .uid(run_as.uid)
        .gid(run_as.gid)
        .env("HOME", &run_as.home)
        .env("USER", &run_as.name)
        .env("LOGNAME", &run_as.name);
}

#[cfg(test)]
#[path = "run_as_tests.rs"]
mod tests;
