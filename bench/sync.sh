#!/usr/bin/env bash
# Issue-2 benchmarks of the file path: builds the release binaries, then runs
# sync-bench, which prints every figure beside its goal and a final table.
# Loopback only. See bench/README.md for what each figure means.
#
#   bench/sync.sh                     # the full run (3 to 6 minutes of measuring)
#   bench/sync.sh --saves 50 --idle 10 --poll-window 15 --files 2000 --tree-bytes 20000000
#                                     # a quick smoke run; flags go to sync-bench
#   SYNC_BENCH_KEEP=1 bench/sync.sh   # keep the work dir (trees, logs) afterwards
#   DAEMON_PROFILE=release bench/sync.sh
#                                     # the daemon built as before (default: the
#                                     # `daemon` profile, linked statically, as
#                                     # it ships: scripts/build-daemon.sh)
#   SYNC_BENCH_VOLUME=none bench/sync.sh
#                                     # measure in $TMPDIR as it is (default:
#                                     # a fresh ext4 volume, see below)
#
# Where it measures: a preview's tree lives on a fresh volume (a Fly volume
# or root filesystem, ext4 with its journal), and so do the peers' copies
# here. As root with loop devices, the work dir (trees, peers' copies, the
# provisioner's data dir) is a new ext4 file system made for this run in a
# sparse image file, every part of it initialised before measuring and
# removed afterwards. Without it, the work dir is in $TMPDIR, where on a
# machine whose ext4 has no journal every new file pays for the inodes
# freed in its block group in the last minute (bench/README.md: a round of
# tar took 0.8 s or 5.5 s depending on what was deleted before it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}

# Tools: rsync (reference), netcat-openbsd (tar pipe; needs -N), strace
# (idle syscall counts), diff (tree checks), bubblewrap (the provisioner's
# sandbox for local previews, which it checks at start). Installed only when missing.
missing=()
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
if ! command -v nc >/dev/null 2>&1 || ! nc -h 2>&1 | grep -q -- '-N'; then
    missing+=(netcat-openbsd)
fi
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v diff >/dev/null 2>&1 || missing+=(diffutils)
command -v getconf >/dev/null 2>&1 || missing+=(libc-bin)
# The provisioner refuses to start without a sandbox for local previews.
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
if ((${#missing[@]})); then
    sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "installing: ${missing[*]}"
    $sudo apt-get update -q
    $sudo apt-get install -y -q "${missing[@]}"
fi

# The daemon is measured as runtime-image/Dockerfile builds it.
daemon_profile=${DAEMON_PROFILE:-daemon}
echo "== build: cargo build --release -p provisioner -p sync-daemon -p sync-bench"
build_started=$SECONDS
cargo build --release -p provisioner -p sync-daemon -p sync-bench
daemon_binary=$target/release/sync-daemon
if [ "$daemon_profile" = daemon ]; then
    # Alone, as the image builds it (features unified over the daemon only),
    # linked statically: scripts/build-daemon.sh says why.
    echo "== build: scripts/build-daemon.sh (the daemon profile, static)"
    daemon_binary=$(scripts/build-daemon.sh)
elif [ "$daemon_profile" != release ]; then
    echo "== build: cargo build --profile $daemon_profile -p sync-daemon"
    cargo build --profile "$daemon_profile" -p sync-daemon
    daemon_binary=$target/$daemon_profile/sync-daemon
fi
build_seconds=$((SECONDS - build_started))

work=$(mktemp -d "${TMPDIR:-/tmp}/sync-bench.XXXXXX")
volume_image=
volume=none
if [ "${SYNC_BENCH_VOLUME:-ext4}" = ext4 ] && [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null 2>&1; then
    volume_image="$work.img"
    truncate -s 4G "$volume_image"
    # Inode tables and journal written now, not by a kernel thread while measuring.
    if mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$volume_image" &&
        mount -o loop "$volume_image" "$work"; then
        volume="fresh ext4 (journal), 4 GiB image file"
    else
        echo "no fresh volume (mkfs.ext4 or the loop mount failed); measuring in ${TMPDIR:-/tmp}"
        rm -f "$volume_image"
        volume_image=
    fi
fi
echo "work dir: $work on $volume"
# sync-bench takes both binaries from one directory.
mkdir "$work/bin"
ln -s "$target/release/provisioner" "$work/bin/provisioner"
ln -s "$daemon_binary" "$work/bin/sync-daemon"
bench_pid=
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
    if [ -n "$bench_pid" ]; then
        # sync-bench kills its children (each in its own process group) on TERM.
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
    if [ -d "$work/logs" ]; then
        rm -rf "$target/sync-bench-logs"
        cp -r "$work/logs" "$target/sync-bench-logs" 2>/dev/null || true
    fi
    if [ -n "${SYNC_BENCH_KEEP:-}" ]; then
        echo "work dir kept: $work${volume_image:+ (mounted from $volume_image)}"
    else
        if [ -n "$volume_image" ]; then
            umount "$work" || umount -l "$work" || true
            rm -f "$volume_image"
        fi
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

measure_started=$SECONDS
"$target/release/sync-bench" --bin-dir "$work/bin" --work-dir "$work" "$@" &
bench_pid=$!
status=0
wait "$bench_pid" || status=$?
bench_pid=
measure_seconds=$((SECONDS - measure_started))

printf '\nbuild time: %d s (release: provisioner, sync-daemon, sync-bench; the measured daemon: %s; near 0 when up to date)\n' "$build_seconds" "$daemon_binary"
printf 'measuring time: %d s (all of sync-bench)\n' "$measure_seconds"
echo "logs: $target/sync-bench-logs"
exit "$status"
