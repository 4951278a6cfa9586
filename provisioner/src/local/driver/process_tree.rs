//! Finding and signalling a preview's whole process tree through `/proc`.
//!
//! The daemon runs in its own process group, and it starts the dev server in
//! another one (so it can stop `npm` and everything npm started). Signalling
//! the daemon's group alone would leave the dev server behind if the daemon
//! died first, so stopping a preview signals every group found under it.

use std::collections::BTreeSet;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i32,
    pub parent_pid: i32,
    pub group_id: i32,
    /// Clock ticks after boot: with the pid, identifies one process across pid reuse.
    pub start_time: u64,
    pub zombie: bool,
}

/// Reads one process; `None` when it does not exist (any more).
pub fn process_info(pid: i32) -> Option<ProcessInfo> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a `stat` line. The command name sits in parentheses and may itself
/// contain spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<ProcessInfo> {
    let pid = text.split_once(' ')?.0.parse().ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    // After the name: state(0) ppid(1) pgrp(2) ... starttime(19).
    Some(ProcessInfo {
        pid,
        zombie: *fields.first()? == "Z",
        parent_pid: fields.get(1)?.parse().ok()?,
        group_id: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Whether `pid` is still the process that started at `start_time`, and not a zombie.
pub fn is_same_process(pid: i32, start_time: u64) -> bool {
    process_info(pid).is_some_and(|info| !info.zombie && info.start_time == start_time)
}

fn all_processes() -> Vec<ProcessInfo> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(process_info)
        .collect()
}

/// The process groups of `root` and of every process descended from it.
pub fn groups_under(root: i32) -> BTreeSet<i32> {
    let processes = all_processes();
    let mut members = BTreeSet::from([root]);
    // Parents precede children in no guaranteed order: repeat until stable,
    // bounded by the number of processes.
    for _ in 0..processes.len() {
        let before = members.len();
        for process in &processes {
            if members.contains(&process.parent_pid) {
                members.insert(process.pid);
            }
        }
        if members.len() == before {
            break;
        }
    }
    let mut groups: BTreeSet<i32> = processes
        .iter()
        .filter(|process| members.contains(&process.pid))
        .map(|process| process.group_id)
        .collect();
    groups.insert(root);
    groups
}

/// Sends `signal` to each group; groups already gone are skipped.
pub fn signal_groups(groups: &BTreeSet<i32>, signal: Signal) {
    for group in groups {
        match killpg(Pid::from_raw(*group), signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::warn!(group, error = %error, "failed to signal process group"),
        }
    }
}

/// Whether any process of these groups still exists (zombies included).
fn any_group_alive(groups: &BTreeSet<i32>) -> bool {
    groups
        .iter()
        .any(|group| killpg(Pid::from_raw(*group), None).is_ok())
}

/// Whether any process of these groups still runs. Zombies do not count: an
/// orphan's zombie waits for init to reap it, which may never come in a container.
pub fn any_group_running(groups: &BTreeSet<i32>) -> bool {
    if !any_group_alive(groups) {
        return false;
    }
    all_processes()
        .iter()
        .any(|process| groups.contains(&process.group_id) && !process.zombie)
}

/// Whether a process with this pid runs (exists and is not a zombie).
pub fn is_running(pid: i32) -> bool {
    process_info(pid).is_some_and(|info| !info.zombie)
}

/// Stops a tree that is not our child (left over from an earlier run):
/// SIGTERM to the root's group, then SIGKILL to every group under it once
/// `grace` has passed. Returns when none of its groups remain, or after a bound.
pub async fn kill_foreign_tree(root: i32, grace: Duration) {
    let groups = groups_under(root);
    signal_groups(&BTreeSet::from([root]), Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + grace;
    while any_group_running(&groups) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut groups = groups;
    groups.extend(groups_under(root));
    signal_groups(&groups, Signal::SIGKILL);
    for _ in 0..100 {
        if !any_group_running(&groups) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let line =
            "4242 (node (vite) x) S 17 4242 17 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        let info = parse_stat(line).expect("parses");
        assert_eq!(
            info,
            ProcessInfo {
                pid: 4242,
                parent_pid: 17,
                group_id: 4242,
                start_time: 987654,
                zombie: false,
            }
        );
    }

    #[test]
    fn reads_this_process() {
        let me = i32::try_from(std::process::id()).expect("pid fits");
        let info = process_info(me).expect("own stat");
        assert_eq!(info.pid, me);
        assert!(is_same_process(me, info.start_time));
        assert!(!is_same_process(me, info.start_time + 1));
        assert!(groups_under(me).contains(&info.group_id));
    }
}
