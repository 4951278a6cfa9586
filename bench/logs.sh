#!/usr/bin/env bash
# Log throughput (issue 10): a dev server printing LINES_PER_S lines/s for
# FLOOD_S seconds, through the local driver. Prints, side by side, quiet and
# flooded: the daemon's and the provisioner's CPU (from /proc, % of one core)
# and save -> file on disk p50/p99 over SAVES saves (PUT, then the file read
# back from the preview's directory). Also what became of the flood's lines:
# read from the log (followed live), reported dropped by the daemon (it
# ships at most 4 batches of 1,000 lines a second), or unaccounted.
# The dev server runs under `node --watch`, so a save does not restart it.
# Loopback only; the previews run sandboxed when bubblewrap is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES_PER_S="${LINES_PER_S:-10000}"
FLOOD_S="${FLOOD_S:-10}"
SAVES="${SAVES:-100}"
PROFILE="${PROFILE:-release}"
case "$PROFILE" in dev) bin=target/debug ;; *) bin="target/$PROFILE" ;; esac
cargo build --locked --profile "$PROFILE" --workspace --bins

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="bench-$RANDOM$RANDOM"
sandbox=()
command -v bwrap >/dev/null 2>&1 || sandbox=(--allow-unsandboxed-previews)
PROVISIONER_API_KEY="$key" "$bin/provisioner" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
  --driver local --local-exec "node --watch server.js" --sync-daemon-bin "$bin/sync-daemon" "${sandbox[@]}" \
  >"$work/provisioner.log" 2>&1 &
provisioner_pid=$!
cleanup() {
  kill -TERM "$provisioner_pid" 2>/dev/null && wait "$provisioner_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

API="http://127.0.0.1:$port" KEY="$key" DATA="$work/data" PROVISIONER_PID="$provisioner_pid" \
LINES_PER_S="$LINES_PER_S" FLOOD_S="$FLOOD_S" SAVES="$SAVES" python3 - <<'PY'
import json, os, threading, time, urllib.request

api, key, data = os.environ["API"], os.environ["KEY"], os.environ["DATA"]
lines_per_s, flood_s, saves = int(os.environ["LINES_PER_S"]), int(os.environ["FLOOD_S"]), int(os.environ["SAVES"])
app = "flood"
server = """
const http = require('http');
const port = Number(process.env.PORT);
console.log('flood server on ' + port);
http.createServer((request, response) => {
  if (request.url.startsWith('/flood')) {
    const perTick = Math.ceil(%d / 100), ticks = %d * 100;
    let tick = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < perTick; i++) console.log('flood line ' + tick + '.' + i + ' ' + 'x'.repeat(60));
      if (++tick >= ticks) clearInterval(timer);
    }, 10);
  }
  response.end('ok');
}).listen(port, '127.0.0.1');
""" % (lines_per_s, flood_s)

def call(method, path, body=None, host=None):
    request = urllib.request.Request(api + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("authorization", "Bearer " + key)
    request.add_header("content-type", "application/json")
    if host:
        request.add_header("host", host)
    with urllib.request.urlopen(request, timeout=120) as response:
        text = response.read()
        return json.loads(text) if text.strip().startswith(b"{") else text

def wait_for(check, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit("bench: timed out")

call("POST", f"/v1/apps/{app}/files", {"changes": [{"path": "server.js", "content": server}, {"path": "note.txt", "content": "0"}]})
call("POST", f"/v1/apps/{app}/provision-preview")
host = f"preview-{app}.localhost:{api.rsplit(':', 1)[1]}"
wait_for(lambda: call("GET", "/", host=host) == b"ok", 120)
app_dir = os.path.join(data, "previews", app, "app")
daemon_pid = json.load(open(os.path.join(data, "previews", app, "daemon.pid")))["pid"]
provisioner_pid = int(os.environ["PROVISIONER_PID"])
tick = os.sysconf("SC_CLK_TCK")

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

counter = [0]
def saves_p(count):
    latencies = []
    for _ in range(count):
        counter[0] += 1
        value = str(counter[0])
        started = time.perf_counter()
        request = urllib.request.Request(f"{api}/v1/apps/{app}/files/note.txt", method="PUT", data=value.encode())
        request.add_header("authorization", "Bearer " + key)
        urllib.request.urlopen(request, timeout=30).read()
        path = os.path.join(app_dir, "note.txt")
        while True:
            try:
                if open(path).read() == value:
                    break
            except OSError:
                pass
            time.sleep(0.0005)
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]

def phase(flood):
    before = (cpu_seconds(daemon_pid), cpu_seconds(provisioner_pid), time.time())
    if flood:
        call("GET", "/flood", host=host)
    p50, p99 = saves_p(saves)
    # Measure over the whole flood (and as long when quiet).
    remaining = flood_s - (time.time() - before[2])
    if remaining > 0:
        time.sleep(remaining)
    after = (cpu_seconds(daemon_pid), cpu_seconds(provisioner_pid), time.time())
    wall = after[2] - before[2]
    return (100 * (after[0] - before[0]) / wall, 100 * (after[1] - before[1]) / wall, p50, p99)

def newest_cursor():
    cursor = 0
    while True:
        page = call("GET", f"/v1/apps/{app}/logs?since={cursor}")
        if not page["lines"]:
            return cursor
        cursor = page["cursor"]

# A follower reads the log as it grows, so it sees every "N log lines
# dropped" line before the store's tail moves past it.
follow = {"cursor": 0, "flood": 0, "notices": 0, "dropped": 0, "unread": 0, "stop": False}
def follower():
    import re
    while not follow["stop"]:
        try:
            page = call("GET", f"/v1/apps/{app}/logs?since={follow['cursor']}&limit=1000")
        except Exception:
            time.sleep(0.05)
            continue
        lines = page["lines"]
        if lines and page["cursor"] - follow["cursor"] > len(lines):
            follow["unread"] += page["cursor"] - follow["cursor"] - len(lines)
        for line in lines:
            if line["text"].startswith("flood line "):
                follow["flood"] += 1
            found = re.match(r"(\d+) log lines dropped", line["text"])
            if line["source"] == "daemon" and found:
                follow["notices"] += 1
                follow["dropped"] += int(found.group(1))
        follow["cursor"] = page["cursor"]
        if len(lines) < 1000:
            time.sleep(0.05)

quiet = phase(False)
follow["cursor"] = newest_cursor()
reader = threading.Thread(target=follower, daemon=True)
reader.start()
flooded = phase(True)
settled = None
while settled != follow["cursor"]:
    settled = follow["cursor"]
    time.sleep(1.5)
follow["stop"] = True
reader.join()
shipped = newest_cursor()
print(f"log flood: {lines_per_s} lines/s for {flood_s} s; {saves} saves per phase")
print(f"{'':28}{'quiet':>10}{'flooded':>10}")
print(f"{'daemon CPU (% of a core)':28}{quiet[0]:>10.1f}{flooded[0]:>10.1f}")
print(f"{'provisioner CPU (%)':28}{quiet[1]:>10.1f}{flooded[1]:>10.1f}")
print(f"{'save -> on disk p50 (ms)':28}{quiet[2]:>10.1f}{flooded[2]:>10.1f}")
print(f"{'save -> on disk p99 (ms)':28}{quiet[3]:>10.1f}{flooded[3]:>10.1f}")
printed = lines_per_s * flood_s
print(f"flood lines printed {printed}: read from the log {follow['flood']}, reported dropped {follow['dropped']} "
      f"(in {follow['notices']} daemon lines), trimmed before the reader saw them {follow['unread']}, "
      f"unaccounted {printed - follow['flood'] - follow['dropped'] - follow['unread']}")
print(f"log cursor at the end: {shipped}; the provisioner keeps the last 5,000 lines")
PY
