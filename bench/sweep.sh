#!/usr/bin/env bash
# The blob sweep under heavy churn (issue 11): one app of 20,000 files
# rewritten 1,000 files per batch for SECONDS (default 60) while small writes
# to other apps and to the churned app measure the write latency; once with
# the sweep (triggered at SWEEP_AFTER bytes of garbage, default 16 MiB, so a
# short run sweeps several times; `serve`'s default is 64 MiB) and once
# without (the peer: the trigger set out of reach). Prints one JSON line per run: write
# p50/p99/max, errors, each sweep's duration, the database file (with its
# WAL) before the churn and after it, and the sweep's metrics. The
# provisioners' logs, and each small write's start and latency
# (NAME-writes.jsonl), are kept in target/sweep-bench-logs/ (with
# RUST_LOG=info,provisioner::store=debug they time each sweep page).
#
# CHURN_BATCH (default 1000) files per batch, CHURN_RATE batches per second
# (default 0: back to back, so the database never rests and every small
# write waits for a batch whatever the sweep does).
#
#   bench/sweep.sh [SECONDS] [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
files="${2:-20000}"

PROFILE="${PROFILE:-dev}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac
# SWEEP_BENCH_NO_BUILD=1 uses the binaries as built.
[ -n "${SWEEP_BENCH_NO_BUILD:-}" ] || cargo build --locked --profile "$PROFILE" -p provisioner --bins

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

run() { # run NAME [serve flags...]
  local name="$1"; shift
  local port key api data="$work/$name"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  key="bench-$RANDOM$RANDOM"
  api="http://127.0.0.1:$port"
  mkdir -p "$data"
  LOG_FORMAT=json PROVISIONER_API_KEY="$key" "$bin/provisioner" serve --listen "127.0.0.1:$port" --data-dir "$data" \
    --driver local --allow-unsandboxed-previews "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  printf '%s: ' "$name"
  python3 bench/sweep.py --api "$api" --key "$key" --data-dir "$data" --log "$work/$name.log" \
    --files "$files" --seconds "$seconds" \
    --churn-batch "${CHURN_BATCH:-1000}" --churn-rate "${CHURN_RATE:-0}" \
    --writes-out "$work/$name-writes.jsonl"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  mkdir -p target/sweep-bench-logs && cp "$work/$name.log" "$work/$name-writes.jsonl" target/sweep-bench-logs/
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at start"
run sweep --sweep-after-garbage-bytes "${SWEEP_AFTER:-16777216}"
run peer --sweep-after-garbage-bytes 1000000000000 --sweep-after-garbage-blobs 1000000000000
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at end"
