#!/usr/bin/env bash
# The shared package cache of local previews (issue 9), one run, figures on
# stdout: time from `provisioner push` of create-vite's React template to
# its first page through the edge proxy, cold (empty cache) and warm (a
# second app with the same dependencies, same cache). Previews run
# unsandboxed here (`--allow-unsandboxed-previews`): only they share the
# cache. Needs npm and the registry; loopback otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-dev}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac
cargo build --locked --profile "$PROFILE" -p provisioner -p sync-daemon --bins

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="bench-$RANDOM$RANDOM"
api="http://127.0.0.1:$port"
PROVISIONER_API_KEY="$key" "$bin/provisioner" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
  --driver local --allow-unsandboxed-previews --local-package-cache "$work/cache" \
  --sync-daemon-bin "$bin/sync-daemon" >"$work/provisioner.log" 2>&1 &
provisioner_pid=$!
cleanup() {
  kill -TERM "$provisioner_pid" 2>/dev/null && wait "$provisioner_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

(cd "$work" && npm pack create-vite --silent --cache "$work/pack-cache" >/dev/null && tar xzf create-vite-*.tgz)

# Seconds from push to the app's first 200 through the proxy (bounded: 10 min).
first_page() {
  local app="$1" start
  cp -r "$work/package/template-react" "$work/$app"
  mv "$work/$app/_gitignore" "$work/$app/.gitignore"
  start="$(date +%s.%N)"
  "$bin/provisioner" push --app "$app" --server "$api" --api-key "$key" "$work/$app" >/dev/null
  for _ in $(seq 1 6000); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Host: preview-$app.localhost:$port" "$api/")" = 200 ]; then
      python3 -c "import time; print(f'{time.time() - $start:.1f}')"
      return
    fi
    sleep 0.1
  done
  echo "$app never answered; see $work/data/previews/$app/daemon.log" >&2
  exit 1
}
cold="$(first_page cold)"
warm="$(first_page warm)"
echo "push -> first page, Vite React (create-vite): cold cache ${cold} s, warm cache ${warm} s"
