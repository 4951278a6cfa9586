#!/usr/bin/env bash
# Edit -> visible in the open page (issue 9): create-vite's React template,
# pushed unmodified to a local preview, opened in Chromium inside an iframe;
# EDITS saves of src/App.jsx through the files API, each timed from the PUT
# to its text in the open page (hot update, no reload), p50/p95 printed with
# the first page's time. Needs npm and the registry, Debian's chromium and
# tests/browser's npm packages; loopback otherwise.
#
# Env: PROFILE (dev), EDITS (40).
set -euo pipefail
cd "$(dirname "$0")/.."

EDITS="${EDITS:-40}"
(cd tests/browser && npm ci --no-audit --no-fund >/dev/null)
source bench/local-provisioner.sh
start_local_provisioner

(cd "$work" && npm pack create-vite --silent --cache "$work/pack-cache" >/dev/null && tar xzf create-vite-*.tgz)
cp -r "$work/package/template-react" "$work/react"
mv "$work/react/_gitignore" "$work/react/.gitignore"
"$bin/provisioner" push --app react --server "$api" --api-key "$key" "$work/react" >/dev/null

shown="Get started"
grep -q "$shown" "$work/react/src/App.jsx" || { echo "create-vite's src/App.jsx no longer says \"$shown\"; update this script" >&2; exit 1; }
summary="$(cd tests/browser && PREVIEW_URL="http://preview-react.localhost:$port/" API_URL="$api" API_KEY="$key" \
  APP_ID=react FILE=src/App.jsx ORIGINAL="$(cat "$work/react/src/App.jsx")" SHOWN="$shown" EDITS="$EDITS" \
  timeout 900 node real-app.mjs | tail -1)"
echo "edit -> visible, Vite React (create-vite) in Chromium, $EDITS edits, profile $PROFILE, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$summary" | python3 -c '
import json, sys
s = json.load(sys.stdin)
first, p50, p95 = s["rendered_ms"], s["edits_p50_ms"], s["edits_p95_ms"]
print(f"  first page {first} ms; edit -> visible p50 {p50} ms, p95 {p95} ms (hot updates, no reload)")'
