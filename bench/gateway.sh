#!/usr/bin/env bash
# Gateway overhead (issue 9): requests/s and p50/p99 latency of a plain
# Node dev server measured straight, through the preview gateway in front
# of it (what Fly's proxy reaches), and through the local edge proxy plus
# the gateway (what a browser reaches locally), in the same run,
# alternating ROUNDS times; medians printed. Loopback only.
#
# Env: PROFILE (dev), ROUNDS (3), CONCURRENCY (16), LOAD_SECONDS (5), BODY_BYTES (2048).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
BODY_BYTES="${BODY_BYTES:-2048}"
source bench/local-provisioner.sh
start_local_provisioner --local-exec "node server.js"

mkdir -p "$work/app"
cat >"$work/app/server.js" <<JS
const body = 'x'.repeat($BODY_BYTES);
require('http').createServer((request, response) => {
  response.setHeader('content-type', 'text/plain');
  response.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
JS
"$bin/provisioner" push --app gw --server "$api" --api-key "$key" "$work/app" >/dev/null
runtime=""
for _ in $(seq 1 300); do
  runtime="$(curl -sf -H "Authorization: Bearer $key" "$api/v1/apps/gw/preview" | python3 -c '
import json, sys
runtime = json.load(sys.stdin).get("runtime") or {}
if runtime.get("upstream_port"): print(runtime["gateway_port"], runtime["upstream_port"])')" || true
  [ -n "$runtime" ] && break
  sleep 0.1
done
[ -n "$runtime" ] || { echo "the preview never reported its ports; see $work/data/previews/gw/daemon.log" >&2; exit 1; }
read -r gateway_port dev_port <<<"$runtime"

declare -A rows
for round in $(seq 1 "$ROUNDS"); do
  rows[straight]+="$(node bench/gateway-load.mjs "http://127.0.0.1:$dev_port/")"$'\n'
  rows[gateway]+="$(node bench/gateway-load.mjs "http://127.0.0.1:$gateway_port/")"$'\n'
  rows[edge]+="$(node bench/gateway-load.mjs "$api/" "preview-gw.localhost:$port")"$'\n'
done

echo "gateway overhead: plain Node server, ${BODY_BYTES}-byte body, concurrency ${CONCURRENCY:-16}, ${LOAD_SECONDS:-5} s x $ROUNDS rounds (medians), profile $PROFILE, load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in straight gateway edge; do
  printf '%s' "${rows[$name]}" | python3 -c '
import json, statistics, sys
name = sys.argv[1]
runs = [json.loads(line) for line in sys.stdin if line.strip()]
median = lambda key: statistics.median(run[key] for run in runs)
label = {"straight": "dev server straight", "gateway": "through the gateway", "edge": "edge proxy + gateway"}[name]
rate, p50, p99 = median("requests_per_second"), median("p50_ms"), median("p99_ms")
errors = sum(run["errors"] for run in runs)
print(f"  {label:22} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   errors {errors}")
' "$name"
done
