#!/usr/bin/env bash
# Local preview benchmarks (issue 4), one run, figures on stdout:
#   1. edit -> browser updated (HMR) through the edge proxy, p50/p95 over EDITS edits,
#      in Debian's Chromium (tests/browser/hmr.mjs), and one wake in the browser;
#   2. wake on visit of a stopped preview, ROUNDS times with curl: time to the
#      loading page and to the app's first byte, beside the dev server's own start time;
#   3. proxy overhead: wrk requests/s and p99 through the proxy vs straight to the dev server.
# Installs wrk and chromium from Debian when missing. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

EDITS="${EDITS:-40}"
ROUNDS="${ROUNDS:-5}"
WRK_SECONDS="${WRK_SECONDS:-10}"
PROFILE="${PROFILE:-release}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  as_root apt-get update -qq && as_root apt-get install -y -qq "${missing[@]}"
fi
(cd tests/browser && npm ci --no-audit --no-fund >/dev/null)
cargo build --locked --profile "$PROFILE" -p provisioner -p sync-daemon --bins

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="bench-$RANDOM$RANDOM"
api="http://127.0.0.1:$port"
host="preview-web.localhost:$port"
PROVISIONER_API_KEY="$key" "$bin/provisioner" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
  --driver local --idle-timeout 4s --loop-interval 1s --sync-daemon-bin "$bin/sync-daemon" \
  >"$work/provisioner.log" 2>&1 &
provisioner_pid=$!
cleanup() {
  kill -TERM "$provisioner_pid" 2>/dev/null && wait "$provisioner_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
# Repeats "$@" every 50 ms until it succeeds or $1 seconds pass.
retry_for() {
  local seconds=$1; shift
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: timed out: $*" >&2; return 1; }
    sleep 0.05
  done
}
preview_state() { curl -s -H "authorization: Bearer $key" "$api/v1/apps/web/preview" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'; }
is_asleep() { case "$(preview_state)" in stopped|suspended) return 0 ;; *) return 1 ;; esac; }
app_answers() { curl -sf -H "host: $host" "$api/" | grep -q '/@vite/client'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

retry_for 30 curl -sf "$api/healthz"
"$bin/provisioner" push --server "$api" --api-key "$key" --app web runtime-image/template
retry_for 300 app_answers
echo
echo "== 1. edit -> browser updated through the proxy ($EDITS edits, Chromium), then a wake in the browser"
result="$(cd tests/browser && PREVIEW_URL="http://$host/" API_URL="$api" API_KEY="$key" APP_ID=web EDITS="$EDITS" WAKE=1 node hmr.mjs | tail -1)"
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"HMR edit->browser: p50 {r['hmr_p50_ms']} ms, p95 {r['hmr_p95_ms']} ms, max {max(r['hmr_ms'])} ms over {r['edits']} edits, no reload: {r['hot_updates_without_reload']}")
print(f"browser wake: loading page {r['wake_loading_page_ms']} ms, app first byte {r['wake_first_byte_ms']} ms, app rendered {r['wake_rendered_ms']} ms")
PY

echo
echo "== 2. wake on visit, $ROUNDS rounds (curl: a browser's HTML request and a held request, sent together)"
loading_times=(); first_byte_times=()
for round in $(seq 1 "$ROUNDS"); do
  retry_for 60 is_asleep
  curl -s -o /dev/null -w '%{time_total}\n' -H "host: $host" -H 'accept: text/html' "$api/?round=$round" >"$work/loading" &
  loading_pid=$!
  curl -s -o /dev/null -w '%{time_starttransfer} %{http_code}\n' -H "host: $host" -H 'accept: */*' "$api/?held=$round" >"$work/held"
  wait "$loading_pid"
  loading_ms=$(awk '{ printf "%d", $1 * 1000 }' "$work/loading")
  first_byte_ms=$(awk '{ printf "%d", $1 * 1000 }' "$work/held")
  echo "round $round: loading page $loading_ms ms, app first byte $first_byte_ms ms (status $(awk '{print $2}' "$work/held"))"
  loading_times+=("$loading_ms"); first_byte_times+=("$first_byte_ms")
done
app_dir="$work/data/previews/web/app"
dev_start_times=()
dev_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
for round in $(seq 1 "$ROUNDS"); do
  retry_for 60 is_asleep # the preview's own dev server is stopped; the same files and node_modules are used
  start=$(now_ms)
  (cd "$app_dir" && PORT="$dev_port" exec setsid npm run dev >/dev/null 2>&1) &
  dev_pid=$!
  retry_for 60 curl -sf "http://127.0.0.1:$dev_port/"
  dev_start_times+=("$(( $(now_ms) - start ))")
  kill -TERM -- "-$dev_pid" 2>/dev/null || kill -TERM "$dev_pid" 2>/dev/null || true
  wait "$dev_pid" 2>/dev/null || true
done
echo "wake medians: loading page $(printf '%s\n' "${loading_times[@]}" | median) ms, app first byte $(printf '%s\n' "${first_byte_times[@]}" | median) ms; the dev server's own start (npm run dev until it answers) $(printf '%s\n' "${dev_start_times[@]}" | median) ms"

echo
echo "== 3. proxy overhead (wrk -t2 -c32 -d${WRK_SECONDS}s, GET /src/message.js)"
retry_for 60 app_answers
upstream_port="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$work/data/previews/web/launch.json")"
# Straight traffic is invisible to the provisioner: keep the preview awake meanwhile.
( while :; do curl -s -o /dev/null -X POST -H "authorization: Bearer $key" "$api/v1/apps/web/activity"; sleep 1; done ) &
keepalive_pid=$!
wrk -t2 -c32 -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$upstream_port/src/message.js" >"$work/direct"
wrk -t2 -c32 -d"${WRK_SECONDS}s" --latency -H "Host: $host" "$api/src/message.js" >"$work/proxied"
kill "$keepalive_pid" 2>/dev/null || true
for run in direct proxied; do
  awk -v run="$run" '/Requests\/sec/ { rps = $2 } / 99%/ { p99 = $2 } /Non-2xx/ { errors = $NF } END { printf "%-8s %10s req/s   p99 %s%s\n", run, rps, p99, (errors ? "   non-2xx " errors : "") }' "$work/$run"
done
