//! Gives the heap's free pages back to the system after a large cycle.
//!
//! A 10,000-file sync allocates and frees tens of MB (the manifest, what
//! every path looked like, the plan, the snapshot's bytes) in small blocks
//! on several threads; glibc keeps the freed memory, fragmented across its
//! arenas, so the daemon idled at 14–20 MiB of heap while holding about 2.
//! Its environment settings (`MALLOC_TRIM_THRESHOLD_`, `MALLOC_ARENA_MAX`)
//! only trim the top of a heap and did not help (bench/README.md);
//! `malloc_trim(0)` also releases the whole free pages inside it. Measured
//! on the 10,000-file tree, release build: RssAnon 14.2 → 5.2 MiB. It costs
//! a walk of the free lists (about a millisecond), so it runs after index
//! saves, which follow applied cycles and come at most once a second.
//!
//! Before any thread starts, [`one_arena`] keeps every thread on glibc's
//! main heap. By default each thread that allocates gets an arena of its
//! own, and what a thread allocated during a large sync (the index's
//! entries, made on whichever worker or writer thread ran the step) stays
//! scattered over half-used pages of up to 14 arenas that trimming cannot
//! give back: measured on the 10,000-file tree, the 3 s poll daemon that
//! made the initial sync itself kept 2.1 MiB in its thread arenas against
//! 0.5 MiB for one that found the tree synced (bench/README.md). The
//! daemon's threads allocate little at once (a few request buffers, one
//! writer per blob batch), so one lock on one heap costs it nothing that
//! shows.
//!
//! This module is the daemon's only `unsafe` code.

/// Makes every thread allocate from glibc's main heap, and every block of
/// [`MMAP_THRESHOLD_BYTES`] or more a mapping of its own (glibc only;
/// elsewhere nothing). Call it first in `main`, before any thread exists.
///
/// glibc maps large blocks, but once one is freed it raises that threshold
/// to the block's size (up to 32 MiB), so the manifest's and the blob
/// batches' buffers of the next cycles land on the heap, and what the
/// sync's small blocks keep around them pins their pages. Set once, the
/// threshold stays: measured on the 10,000-file tree (bench/README.md),
/// the 3 s poll daemon's idle heap fell from 4.4 to 3.9 MiB.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes no pointer and only sets a tunable of the
    // allocator; called before any other thread exists, nothing races it,
    // and arenas made before it (none but the main heap) stay valid.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

/// Blocks at least this large are mapped on their own, and given back to
/// the system as soon as they are freed: the manifest's body and what a
/// whole-tree cycle parses from it. Not lower: at 64 KiB, every read buffer
/// of a blob batch's body (hyper grows them to about 400 KiB) was a mapping
/// of its own, faulted in page by page, zeroed and unmapped once read,
/// about a sixth of the daemon's time in an initial sync (perf: page
/// faults, `clear_page`, `munmap`); from the heap they are reused. Measured
/// on the 10,000-file tree (bench/README.md): `--once` 461 -> 415 ms
/// (medians of 5), the idle daemons' heap the same or smaller.
pub const MMAP_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Returns free heap pages to the system (glibc only; elsewhere nothing).
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only rearranges the
    // allocator's own free memory; glibc documents it as thread-safe
    // (MT-Safe), and no Rust invariant depends on free pages staying mapped.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resident_anonymous_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn large_blocks_are_given_back_when_freed_even_after_one_was_freed_before() {
        one_arena();
        // glibc's own rule would move the threshold past 4 MiB here.
        drop(std::hint::black_box(vec![1u8; 4 * 1024 * 1024]));
        let before = resident_anonymous_kib();
        let mut buffers: Vec<Vec<u8>> = (0..16).map(|_| vec![1u8; 2 * 1024 * 1024]).collect();
        // A small block after them, kept: the heap's top stays in use.
        let kept = std::hint::black_box(vec![1u8; 64]);
        let during = resident_anonymous_kib();
        buffers.clear();
        let after = resident_anonymous_kib();
        assert!(
            during - before > 24 * 1024,
            "RssAnon {before} KiB before, {during} KiB during"
        );
        assert!(
            after < before + 4 * 1024,
            "RssAnon {before} KiB before, {during} KiB during, {after} KiB after freeing"
        );
        assert_eq!(kept.len(), 64);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn free_pages_inside_a_fragmented_heap_are_given_back() {
        // 64 MiB in 1 KiB blocks, one block in 64 kept: the heap's top
        // stays in use, so only trimming inside it frees the pages between.
        let mut blocks: Vec<Vec<u8>> = (0..65_536).map(|_| vec![1u8; 1024]).collect();
        let kept: Vec<Vec<u8>> = blocks.iter_mut().step_by(64).map(std::mem::take).collect();
        drop(blocks);
        let before = resident_anonymous_kib();
        release();
        let after = resident_anonymous_kib();
        assert!(
            before.saturating_sub(after) > 32 * 1024,
            "RssAnon {before} KiB before, {after} KiB after"
        );
        assert_eq!(kept.len(), 1_024);
        assert!(kept.iter().all(|block| block.len() == 1024));
    }
}
