// A dev server's view of a synced tree: chokidar (3.6, the version Vite
// bundles, on inotify, Vite's options) watches WATCH_DIR and reads each file
// the moment it is told the file was added or changed, as a dev server about
// to transform it would. Every file the test writes says what it must hold:
// its first line is `<body length> <sha256 of body> <label>`. A read that
// does not match (a truncated, empty or mixed file) is a partial file.
//
// Prints one JSON line per event (`{"event","path","label","whole"}`), a
// `{"ready":true}` line once watching, and, when its standard input closes,
// a `{"summary":{...}}` line, then exits. Bounded: it exits by itself after
// WATCH_LIMIT_MS (default 120 s).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import chokidar from "chokidar";

const dir = process.env.WATCH_DIR;
if (!dir) {
  console.error("set WATCH_DIR to the directory to watch");
  process.exit(2);
}
const limitMs = Number(process.env.WATCH_LIMIT_MS ?? 120_000);

const summary = { events: 0, whole: 0, partial: [], vanished: 0 };

/** Whether `bytes` is a whole file of the test's format, and its label. */
function judge(bytes) {
  const newline = bytes.indexOf(10);
  if (newline < 0) return { whole: false, reason: `no header line in ${bytes.length} bytes` };
  const [length, sha256, label] = bytes.subarray(0, newline).toString("utf8").split(" ");
  const body = bytes.subarray(newline + 1);
  if (body.length !== Number(length)) {
    return { whole: false, label, reason: `body is ${body.length} bytes, header says ${length}` };
  }
  const actual = createHash("sha256").update(body).digest("hex");
  if (actual !== sha256) return { whole: false, label, reason: "body does not hash to its header" };
  return { whole: true, label };
}

function onFile(event, path) {
  summary.events += 1;
  const name = relative(dir, path);
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    // Nothing in the test deletes a file; say so if one went missing.
    summary.vanished += 1;
    console.log(JSON.stringify({ event, path: name, whole: false, reason: error.code }));
    return;
  }
  const verdict = judge(bytes);
  if (verdict.whole) summary.whole += 1;
  else if (summary.partial.length < 20) summary.partial.push({ path: name, reason: verdict.reason });
  console.log(JSON.stringify({ event, path: name, label: verdict.label, whole: verdict.whole }));
}

// Vite's watcher options (server.watch defaults): no initial scan events,
// permission errors ignored, no write-finish heuristics.
const watcher = chokidar.watch(dir, {
  ignoreInitial: true,
  ignorePermissionErrors: true,
  awaitWriteFinish: false,
});
watcher.on("add", (path) => onFile("add", path));
watcher.on("change", (path) => onFile("change", path));
watcher.on("error", (error) => console.error(`watcher error: ${error}`));
watcher.on("ready", () => console.log(JSON.stringify({ ready: true })));

async function finish() {
  // Let events already queued by the kernel arrive before the summary.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await watcher.close();
  console.log(JSON.stringify({ summary }));
  process.exit(0);
}

process.stdin.on("end", finish);
process.stdin.resume();
setTimeout(() => {
  console.error(`still running after ${limitMs} ms; stopping`);
  finish();
}, limitMs).unref();
