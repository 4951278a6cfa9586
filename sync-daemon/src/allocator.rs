//! The daemon's heap between cycles. glibc's allocator keeps freed memory
//! for reuse: after a large initial sync (10,000 files, their manifest and
//! their index entries built and dropped) the daemon idled at about twice
//! the heap it needs, and every runtime thread that allocated had an arena
//! of its own. Two glibc settings fix both: `MALLOC_ARENA_MAX=1` (one
//! arena; the daemon allocates little, so the shared lock costs nothing
//! measurable) and `MALLOC_TRIM_THRESHOLD_=65536` (a free leaving more than
//! 64 KiB at the top of the heap returns it to the kernel), measured to take
//! the 10,000-file daemon's heap from 9 MB to 4.9 MB.
//!
//! glibc reads them at process start only, and calling `mallopt` or
//! `malloc_trim` needs `unsafe`, which the workspace forbids. So the daemon
//! executes itself once more with both in its environment (same process id,
//! same arguments) unless either is already set: by the operator, who then
//! decides, or by that first execution. Any failure just goes on without.
//! Other allocators ignore the variables.

use std::os::unix::process::CommandExt;
use std::process::Command;

const ARENA_MAX: &str = "MALLOC_ARENA_MAX";
const TRIM_THRESHOLD: &str = "MALLOC_TRIM_THRESHOLD_";

/// What the heap settings should be set to, or `None` when the environment
/// already says (`ARENA_MAX` or `TRIM_THRESHOLD` present).
pub fn missing_settings(
    present: impl Fn(&str) -> bool,
) -> Option<[(&'static str, &'static str); 2]> {
    if present(ARENA_MAX) || present(TRIM_THRESHOLD) {
        return None;
    }
    Some([(ARENA_MAX, "1"), (TRIM_THRESHOLD, "65536")])
}

/// Executes the daemon again with the heap settings, before any thread is
/// started; returns only when that is not needed or not possible.
pub fn apply_heap_settings() {
    let Some(settings) = missing_settings(|name| std::env::var_os(name).is_some()) else {
        return;
    };
    let Ok(executable) = std::env::current_exe() else {
        return;
    };
    let mut arguments = std::env::args_os();
    let program = arguments.next();
    let mut command = Command::new(executable);
    if let Some(program) = program {
        command.arg0(program);
    }
    let error = command.args(arguments).envs(settings).exec();
    eprintln!("sync-daemon: going on without heap settings: cannot execute itself again: {error}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_added_only_when_the_environment_has_neither() {
        let cases: [(&[&str], bool); 4] = [
            (&[], true),
            (&["PATH"], true),
            (&[ARENA_MAX], false),
            (&[TRIM_THRESHOLD], false),
        ];
        for (present, added) in cases {
            let settings = missing_settings(|name| present.contains(&name));
            assert_eq!(settings.is_some(), added, "{present:?}");
        }
        let names: Vec<&str> = missing_settings(|_| false)
            .unwrap()
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(names, [ARENA_MAX, TRIM_THRESHOLD]);
    }
}
