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
#                                     # `daemon` profile it ships with)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}

# Tools: rsync (reference), netcat-openbsd (tar pipe; needs -N), strace
# (idle syscall counts), diff (tree checks). Installed only when missing.
missing=()
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
if ! command -v nc >/dev/null 2>&1 || ! nc -h 2>&1 | grep -q -- '-N'; then
    missing+=(netcat-openbsd)
fi
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v diff >/dev/null 2>&1 || missing+=(diffutils)
command -v getconf >/dev/null 2>&1 || missing+=(libc-bin)
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
if [ "$daemon_profile" != release ]; then
    # Alone, as the image builds it (features unified over the daemon only).
    echo "== build: cargo build --profile $daemon_profile -p sync-daemon"
    cargo build --profile "$daemon_profile" -p sync-daemon
fi
build_seconds=$((SECONDS - build_started))

work=$(mktemp -d "${TMPDIR:-/tmp}/sync-bench.XXXXXX")
# sync-bench takes both binaries from one directory.
mkdir "$work/bin"
ln -s "$target/release/provisioner" "$work/bin/provisioner"
ln -s "$target/$daemon_profile/sync-daemon" "$work/bin/sync-daemon"
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
        echo "work dir kept: $work"
    else
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

printf '\nbuild time: %d s (release: provisioner, sync-daemon, sync-bench; the measured daemon: %s; near 0 when up to date)\n' "$build_seconds" "$daemon_profile"
printf 'measuring time: %d s (all of sync-bench)\n' "$measure_seconds"
echo "logs: $target/sync-bench-logs"
exit "$status"
