"""The blob sweep under heavy churn (issue 11): one app of 20,000 files whose
files are rewritten in batches (each rewrite leaves the old content as
garbage) while small writes to other apps measure the write latency. Run by
bench/sweep.sh, once with the sweep and once without (the peer); prints one
line of JSON with the figures."""

import argparse
import datetime
import http.client
import json
import os
import random
import re
import threading
import time
import urllib.parse


def connect(api):
    url = urllib.parse.urlparse(api)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=60)


def request(connection, method, path, key, body=None, content_type=None):
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, data


def batch(connection, key, app, files):
    body = json.dumps({"changes": [{"path": p, "content": c} for p, c in files]})
    status, data = request(connection, "POST", f"/v1/apps/{app}/files", key, body, "application/json")
    if status >= 300:
        raise SystemExit(f"batch to {app}: {status} {data[:300]!r}")


def content(rng, size):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789\n") for _ in range(size))


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def database_bytes(data_dir):
    total = 0
    for suffix in ("", "-wal"):
        path = os.path.join(data_dir, "provisioner.sqlite3" + suffix)
        if os.path.exists(path):
            total += os.path.getsize(path)
    return total


def metrics(api, key):
    connection = connect(api)
    _, data = request(connection, "GET", "/metrics", key)
    values = {}
    for line in data.decode().splitlines():
        match = re.match(r"^(provisioner_blob\w*) (\d+)$", line)
        if match:
            values[match.group(1)] = int(match.group(2))
    return values


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--churn-batch", type=int, default=1000)
    parser.add_argument("--writes-out", help="where to write each small write's start (epoch s) and latency (ms), one JSON line each")
    # Batches started per second; 0 sends them back to back (the database
    # then never rests: every small write waits for a batch).
    parser.add_argument("--churn-rate", type=float, default=0)
    args = parser.parse_args()
    rng = random.Random(11)
    # Sizes from 256 B to 4 KiB: about 43 MB for 20,000 files, made once.
    sizes = [rng.randint(256, 4096) for _ in range(args.files)]
    pool = content(rng, 8192)
    paths = [f"src/d{index % 200}/f{index}.txt" for index in range(args.files)]

    def version(index, round_number):
        start = (index * 7 + round_number * 13) % 4096
        return f"{round_number} {index}\n" + pool[start:start + sizes[index]]

    connection = connect(args.api)
    started = time.monotonic()
    for first in range(0, args.files, 1000):
        chunk = range(first, min(first + 1000, args.files))
        batch(connection, args.key, "big", [(paths[i], version(i, 0)) for i in chunk])
    upload_s = time.monotonic() - started
    size_before = database_bytes(args.data_dir)

    stop = threading.Event()
    latencies = []
    spans = []
    errors = []
    churned = [0]

    def churn():
        own = connect(args.api)
        round_number = 1
        next_start = time.monotonic()
        while not stop.is_set():
            if args.churn_rate > 0:
                next_start += 1 / args.churn_rate
                time.sleep(max(0.0, next_start - time.monotonic()))
            chosen = rng.sample(range(args.files), args.churn_batch)
            try:
                batch(own, args.key, "big", [(paths[i], version(i, round_number)) for i in chosen])
                churned[0] += len(chosen)
            except SystemExit as error:
                errors.append(str(error))
            round_number += 1

    def probe():
        own = connect(args.api)
        number = 0
        while not stop.is_set():
            # Other apps' writes, and single saves into the churned app.
            app, path = (f"other{number % 5}", "a.txt") if number % 2 else ("big", paths[0])
            began, wall = time.monotonic(), time.time()
            status, data = request(own, "PUT", f"/v1/apps/{app}/files/{path}", args.key, f"v{number}")
            latencies.append((time.monotonic() - began) * 1000)
            spans.append((wall, time.time()))
            if status >= 300:
                errors.append(f"{status} {data[:200]!r}")
            number += 1
            time.sleep(0.01)

    threads = [threading.Thread(target=churn), threading.Thread(target=probe)]
    churn_started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in threads:
        thread.join()
    churn_s = time.monotonic() - churn_started

    # Let a running sweep finish: the pending count stops moving.
    last = None
    for _ in range(600):
        now = metrics(args.api, args.key)
        if now == last:
            break
        last = now
        time.sleep(1)
    # Each sweep's span, from the provisioner's JSON log (LOG_FORMAT=json):
    # it ends at the line's timestamp and began elapsed_ms before.
    sweeps, sweep_spans = [], []
    with open(args.log, encoding="utf-8", errors="replace") as log:
        for line in log:
            if "unreferenced blobs removed" not in line:
                continue
            record = json.loads(line)
            elapsed = int(record["fields"]["elapsed_ms"])
            ended = datetime.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
            sweeps.append(elapsed)
            sweep_spans.append((ended - elapsed / 1000, ended))
    if args.writes_out:
        with open(args.writes_out, "w", encoding="utf-8") as out:
            for latency, (began, _) in zip(latencies, spans):
                out.write(json.dumps({"began": began, "ms": round(latency, 2)}) + "\n")
    # The writes that were waiting while a sweep ran.
    during = [
        latency for latency, (began, ended) in zip(latencies, spans)
        if any(began < sweep_end and ended > sweep_start for sweep_start, sweep_end in sweep_spans)
    ]
    print(json.dumps({
        "files": args.files,
        "upload_s": round(upload_s, 1),
        "churn_s": round(churn_s, 1),
        "churn": f"{args.churn_batch} files a batch, "
        + (f"{args.churn_rate:g} batches/s" if args.churn_rate > 0 else "back to back"),
        "files_rewritten": churned[0],
        "writes": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "writes_during_sweeps": len(during),
        "during_sweeps_p50_ms": round(percentile(during, 0.50), 1),
        "during_sweeps_p99_ms": round(percentile(during, 0.99), 1),
        "during_sweeps_max_ms": round(max(during), 1) if during else None,
        "sweeps": len(sweeps),
        "sweep_ms": sweeps,
        "db_bytes_before_churn": size_before,
        "db_bytes_after": database_bytes(args.data_dir),
        "metrics": last,
    }))


if __name__ == "__main__":
    main()
