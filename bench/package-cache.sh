#!/usr/bin/env bash
# The shared package cache of local previews (issue 9), one run, figures on
# stdout: time from `provisioner push` of create-vite's React template to
# its first page through the edge proxy, cold (empty cache) and warm (a
# second app with the same dependencies, same cache). Previews run
# unsandboxed here (`--allow-unsandboxed-previews`): only they share the
# cache. Needs npm and the registry; loopback otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/local-provisioner.sh
start_local_provisioner --allow-unsandboxed-previews --local-package-cache "$work/cache"

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
