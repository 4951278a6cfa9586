#!/usr/bin/env bash
# README's first command: builds the binaries and runs the provisioner with
# previews as local processes (the local driver), data under ./data.
#
#   scripts/run.sh                      # http://127.0.0.1:8080
#   PROVISIONER_LISTEN=127.0.0.1:9000 scripts/run.sh
#   PROFILE=dev scripts/run.sh          # debug build, faster to compile
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PROFILE:-release}"
listen="${PROVISIONER_LISTEN:-127.0.0.1:8080}"
data_dir="${PROVISIONER_DATA_DIR:-./data}"
case "$profile" in
  dev) target_dir=target/debug ;;
  *) target_dir="target/$profile" ;;
esac

command -v node >/dev/null 2>&1 || { echo "run.sh: previews run Node dev servers; install node and npm first" >&2; exit 1; }
# Local previews run app code in a sandbox (bubblewrap); serve refuses to run
# them without one unless told --allow-unsandboxed-previews.
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "run.sh: installing bubblewrap, the sandbox local previews run in"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  { as_root apt-get update -qq && as_root apt-get install -y -qq bubblewrap; } ||
    echo "run.sh: could not install bubblewrap; serve will say what to do" >&2
fi
cargo build --locked --profile "$profile" -p provisioner -p sync-daemon --bins

mkdir -p "$data_dir"
port="${listen##*:}"
key="${PROVISIONER_API_KEY:-}"
if [ -z "$key" ]; then
  # Made here rather than by serve on its first start, so the URL below can carry it.
  if [ ! -s "$data_dir/api-key" ]; then
    (umask 077 && printf 'pk_%s' "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" >"$data_dir/api-key")
  fi
  key="$(cat "$data_dir/api-key")"
  echo "operator API key (kept in $data_dir/api-key): $key"
fi
cat <<HINT

Open the playground (the key is in the URL's #fragment, which the browser keeps to itself):
  http://$listen/#key=$key

Quickstart, in another terminal:
  $target_dir/provisioner push --server http://$listen --data-dir $data_dir --app demo runtime-image/template
  then open http://preview-demo.localhost:$port/ and edit src/message.js:
  $target_dir/provisioner push --server http://$listen --data-dir $data_dir --app demo runtime-image/template

HINT
exec "$target_dir/provisioner" serve --listen "$listen" --data-dir "$data_dir" --driver local \
  --sync-daemon-bin "$target_dir/sync-daemon"
