#!/usr/bin/env bash
# Render benchmark (issue 10), one run, figures on stdout: create-vite's React
# template (from npm, as the tests take it) runs as a local preview, framed in
# Debian's Chromium (tests/browser/render-bench.mjs); SAVES saves of
# src/App.jsx with `?wait=rendered` give save -> on disk and save -> rendered
# at the provisioner, p50/p95, from the same saves; ERRORS saves of a syntax
# error give save -> compile error known. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

SAVES="${SAVES:-30}"
ERRORS="${ERRORS:-10}"
PROFILE="${PROFILE:-release}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
command -v chromium >/dev/null 2>&1 || { as_root apt-get update -qq && as_root apt-get install -y -qq chromium; }
(cd tests/browser && npm ci --no-audit --no-fund >/dev/null)
cargo build --locked --profile "$PROFILE" -p provisioner -p sync-daemon --bins

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="bench-$RANDOM$RANDOM"
api="http://127.0.0.1:$port"
cache="$PWD/target/test-package-cache"
mkdir -p "$cache"
PROVISIONER_API_KEY="$key" "$bin/provisioner" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
  --driver local --local-package-cache "$cache" --sync-daemon-bin "$bin/sync-daemon" \
  >"$work/provisioner.log" 2>&1 &
provisioner_pid=$!
cleanup() {
  [ -n "${straight_pid:-}" ] && { kill -TERM "$straight_pid" 2>/dev/null; wait "$straight_pid" 2>/dev/null || true; }
  kill -TERM "$provisioner_pid" 2>/dev/null && wait "$provisioner_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

retry_for() {
  local seconds=$1; shift
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: timed out: $*" >&2; return 1; }
    sleep 0.1
  done
}

# The app: create-vite's React template, as `npm create vite -- --template react` writes it.
(cd "$work" && npm pack create-vite --silent --cache "$cache/npm" >/dev/null && tar xzf create-vite-*.tgz)
cp -r "$work/package/template-react" "$work/app"
[ -f "$work/app/_gitignore" ] && mv "$work/app/_gitignore" "$work/app/.gitignore"

host="preview-web.localhost:$port"
app_answers() { curl -sf -H "host: $host" -H 'accept: text/html' "$api/" | grep -q '/@vite/client'; }
retry_for 30 curl -sf "$api/healthz"
"$bin/provisioner" push --server "$api" --api-key "$key" --app web "$work/app" >/dev/null
retry_for 420 app_answers

# The peer: the same app (its installed tree copied) under its dev server run
# straight, on loopback, no sync, no gateway.
cp -a "$work/data/previews/web/app" "$work/straight"
rm -rf "$work/straight/node_modules/.vite"
straight_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
(cd "$work/straight" && exec node node_modules/vite/bin/vite.js --host 127.0.0.1 --port "$straight_port" --strictPort >"$work/straight.log" 2>&1) &
straight_pid=$!
retry_for 60 curl -sf "http://127.0.0.1:$straight_port/"

echo "== save -> on disk, save -> rendered, save -> compile error known (Vite React, $SAVES saves, $ERRORS errors, Chromium)"
result="$(cd tests/browser && PREVIEW_URL="http://$host/" API_URL="$api" API_KEY="$key" APP_ID=web \
  FILE=src/App.jsx ORIGINAL="$(cat "$work/app/src/App.jsx")" SHOWN='Get started' \
  APP_DIR="$work/data/previews/web/app" SAVES="$SAVES" ERRORS="$ERRORS" \
  STRAIGHT_URL="http://127.0.0.1:$straight_port/" STRAIGHT_DIR="$work/straight" \
  BREAK_FIND='return (' BREAK_REPLACE='return ((' node render-bench.mjs | tail -1)"
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"save -> on disk:             p50 {r['disk_p50_ms']} ms, p95 {r['disk_p95_ms']} ms")
print(f"save -> rendered (answer):   p50 {r['rendered_p50_ms']} ms, p95 {r['rendered_p95_ms']} ms (provisioner's own wait p50 {r['rendered_waited_p50_ms']} ms)")
print(f"save -> on screen:           p50 {r['screen_p50_ms']} ms, p95 {r['screen_p95_ms']} ms")
print(f"  peer, Vite straight (file written -> on screen): p50 {r['straight_screen_p50_ms']} ms, p95 {r['straight_screen_p95_ms']} ms")
print(f"save -> compile error known: p50 {r['error_p50_ms']} ms, p95 {r['error_p95_ms']} ms")
print(f"answers other than expected: {len(r['missed'])}" + "".join(f"\n  {m}" for m in r['missed']))
PY
