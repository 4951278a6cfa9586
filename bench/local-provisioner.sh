# Sourced by the preview benchmarks (gateway.sh, edit-visible.sh,
# package-cache.sh): builds the binaries for PROFILE (default dev), then
# `start_local_provisioner [serve flags...]` starts a provisioner with the
# local driver on a free loopback port (its flags may name paths under
# `work`, the scratch dir made here) and sets `port`, `key` and `api`; it is stopped and `work` removed when the script exits.

PROFILE="${PROFILE:-dev}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac
cargo build --locked --profile "$PROFILE" -p provisioner -p sync-daemon --bins

work="$(mktemp -d)"

start_local_provisioner() {
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  key="bench-$RANDOM$RANDOM"
  api="http://127.0.0.1:$port"
  PROVISIONER_API_KEY="$key" "$bin/provisioner" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
    --driver local --sync-daemon-bin "$bin/sync-daemon" "$@" >"$work/provisioner.log" 2>&1 &
  provisioner_pid=$!
  trap 'kill -TERM "$provisioner_pid" 2>/dev/null && wait "$provisioner_pid" 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do curl -sf "$api/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the provisioner did not answer; see $work/provisioner.log" >&2
  return 1
}
