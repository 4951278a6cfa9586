//! Processes as this machine sees them, for tests that check what a preview
//! left running: by pid, and by the directory a process works in, which for
//! a sandboxed preview is found through its mounts (inside, it sees `/app`
//! and its own namespaced pids).

use std::path::Path;
use std::time::Duration;

/// Whether a process with this pid runs. A zombie does not count: an
/// orphan's zombie waits for init, which in a container may never reap it.
pub fn process_exists(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    state.is_some_and(|state| state != "Z")
}

/// Waits (bounded) until the process is gone.
pub async fn wait_gone(pid: i32, bound: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    while tokio::time::Instant::now() < deadline {
        if !process_exists(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Pids of every process working inside `dir`, seen from this machine.
///
/// A sandboxed preview's processes see their tree as `/app` (their cwd link
/// reads `/app`), so they are found by the mount that brings `dir` in: its
/// root, in `/proc/<pid>/mountinfo`, is `dir` or below it (relative to the
/// filesystem `dir` lives on, so only a long enough tail of `dir` is compared).
pub fn processes_inside(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| process_exists(*pid))
        .filter(|pid| cwd_inside(*pid, dir) || mounts_inside(*pid, dir))
        .collect()
}

fn cwd_inside(pid: i32, dir: &Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
}

fn mounts_inside(pid: i32, dir: &Path) -> bool {
    let Ok(mountinfo) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) else {
        return false;
    };
    let dir = dir.to_string_lossy();
    // Tails of `dir` that still name the test's own temporary directory.
    let tails: Vec<&str> = dir
        .match_indices('/')
        .map(|(start, _)| &dir[start..])
        .filter(|tail| tail.len() >= 24)
        .collect();
    mountinfo.lines().any(|line| {
        let Some(root) = line.split(' ').nth(3) else {
            return false;
        };
        tails.iter().any(|tail| {
            root == *tail
                || root
                    .strip_prefix(tail)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    })
}

/// The pid, seen from this machine, of the process inside `dir` whose
/// command line mentions `needle` (e.g. `server.js`). A sandboxed dev server
/// reports its own pid from inside its PID namespace, which means nothing here.
pub fn process_inside(dir: &Path, needle: &str) -> Option<i32> {
    processes_inside(dir).into_iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
            let words: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
            // The program itself, not a shell or bwrap that names it in an argument.
            words
                .first()
                .is_some_and(|program| program.ends_with(b"node"))
                && words.iter().any(|word| word.ends_with(needle.as_bytes()))
        })
    })
}
