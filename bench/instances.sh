#!/usr/bin/env bash
# Several instances under load (issue 12): INSTANCES provisioner instances on
# one throwaway PostgreSQL (scripts/postgres.sh), DAEMONS long-polling clients
# spread over them and WRITERS writers saving for SECONDS
# (bench/instances-load.mjs). Prints the errors (goal 0), save → daemon-notified
# p50/p99, and each instance's open descriptors and memory (RSS) at the peak
# of the run, with the machine's load. Loopback only; everything it started
# is stopped when it exits.
#
#   bench/instances.sh                     # 3 instances, 1,000 daemons, 50 writers, 60 s
#   bench/instances.sh --daemons 200 --writers 10 --seconds 15   # a quick run
#   PROFILE=release bench/instances.sh     # release binaries (default: dev, as built for the tests)
#
# Flags: --instances N, --daemons N, --writers N, --seconds N,
# --write-interval-ms N (each writer's pause between saves; default 1000).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

instances=3 daemons=1000 writers=50 seconds=60 write_interval_ms=1000
while (($#)); do
    case "$1" in
    --instances) instances=$2 ;;
    --daemons) daemons=$2 ;;
    --writers) writers=$2 ;;
    --seconds) seconds=$2 ;;
    --write-interval-ms) write_interval_ms=$2 ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown flag $1 (see --help)" >&2; exit 2 ;;
    esac
    shift 2
done

PROFILE="${PROFILE:-dev}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac
echo "== build: cargo build --locked --profile $PROFILE -p provisioner --bins"
cargo build --locked --profile "$PROFILE" -p provisioner --bins

# 1,000 long-polls and the writers hold more sockets than the usual 1,024
# descriptors allow one process; the instances size --max-connections from it.
ulimit -n 16384

work=$(mktemp -d "${TMPDIR:-/tmp}/instances-bench.XXXXXX")
# Its own directory (scripts/postgres.sh hands it to the postgres user when run as root).
PREVIEW_POSTGRES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/instances-bench-postgres.XXXXXX")
export PREVIEW_POSTGRES_DIR
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    bash scripts/postgres.sh stop >/dev/null 2>&1 || true
    if [ -n "${INSTANCES_BENCH_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

database_url=$(bash scripts/postgres.sh start)
key="bench-$RANDOM$RANDOM$RANDOM"
urls=()
for i in $(seq 1 "$instances"); do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$work/instance-$i"
    PROVISIONER_API_KEY="$key" RUST_LOG=warn "$bin/provisioner" serve \
        --listen "127.0.0.1:$port" --data-dir "$work/instance-$i" \
        --database-url "$database_url" --allow-unsandboxed-previews \
        >"$work/instance-$i.log" 2>&1 &
    pids+=("$!")
    urls+=("http://127.0.0.1:$port")
done
for url in "${urls[@]}"; do
    for _ in $(seq 1 300); do curl -sf "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -sf "$url/readyz" >/dev/null || { echo "$url is not ready; logs in $work" >&2; INSTANCES_BENCH_KEEP=1; exit 1; }
done
echo "== $instances instances on one PostgreSQL: ${urls[*]}"

# Descriptors and RSS of each instance, sampled every second; the peak is kept.
sample() {
    while sleep 1; do
        for i in "${!pids[@]}"; do
            pid=${pids[$i]}
            [ -d "/proc/$pid" ] || continue
            fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
            rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
            echo "$i $fds $rss"
        done
    done
}
sample >"$work/samples" &
sampler=$!
pids+=("$sampler")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

INSTANCES=$(IFS=,; echo "${urls[*]}") API_KEY="$key" DAEMONS=$daemons WRITERS=$writers \
    DURATION_SECONDS=$seconds WRITE_INTERVAL_MS=$write_interval_ms \
    node bench/instances-load.mjs >"$work/summary.json"
kill "$sampler" 2>/dev/null || true
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "== load: $daemons long-polling daemons and $writers writers (one save each per ${write_interval_ms} ms) for $seconds s over $instances instances ($PROFILE build)"
python3 - "$work/summary.json" "$work/samples" "$instances" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
errors = summary["errors"]
print(f"writes {summary['writes']}, long-poll answers {summary['polls']}, notifications {summary['notifications']}")
print(f"errors: {errors['write']} writes, {errors['poll']} polls, {errors['setup']} setup (goal 0)")
for sample in errors["samples"]:
    print(f"  {sample}")
print(f"save -> daemon notified: p50 {summary['notified_p50_ms']} ms, p99 {summary['notified_p99_ms']} ms, max {summary['notified_max_ms']} ms")
print(f"daemons behind the last save 10 s after the writers stopped: {summary['daemons_behind_at_end']}")
peak = {}
for line in open(sys.argv[2]):
    index, fds, rss = line.split()
    old = peak.get(index, (0, 0))
    peak[index] = (max(old[0], int(fds)), max(old[1], int(rss)))
for index in sorted(peak, key=int):
    fds, rss = peak[index]
    print(f"instance {int(index) + 1}: peak {fds} open descriptors, peak RSS {rss / 1024:.0f} MiB")
EOF
echo "machine: $(nproc) cores, load average before $load_before, after $load_after"
