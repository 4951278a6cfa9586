// The load client of bench/instances.sh: DAEMONS long-polling clients that
// speak the daemon's protocol (a sync token, `GET .../files` once, then
// `GET .../files?since=N&wait=30` in a loop) spread round-robin over the
// INSTANCES, and WRITERS operator clients each saving one file of its own app
// every WRITE_INTERVAL_MS for DURATION_SECONDS. Apps: one per writer; daemon d follows
// app d % WRITERS on instance d % instances, so every write wakes long-polls
// on every instance (through PostgreSQL's NOTIFY).
//
// Save → notified: from the moment a writer sends its `PUT` to the moment a
// daemon's long-poll answers with that revision or a later one. Prints
// progress to stderr and one JSON summary on stdout. Bounded: it stops
// DURATION_SECONDS + 40 s after the start whatever happens.
import http from "node:http";

const env = process.env;
const instances = (env.INSTANCES ?? "").split(",").filter(Boolean);
const key = env.API_KEY;
const daemons = Number(env.DAEMONS ?? 1000);
const writers = Number(env.WRITERS ?? 50);
const seconds = Number(env.DURATION_SECONDS ?? 60);
const writeInterval = Number(env.WRITE_INTERVAL_MS ?? 1000);
if (!instances.length || !key) {
  console.error("set INSTANCES (comma-separated base URLs) and API_KEY");
  process.exit(2);
}

// node:http with one keep-alive agent: lighter than fetch for a thousand
// concurrent long-polls in one process.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
function request(method, url, headers, body) {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(url, { method, headers, agent }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: response.statusCode, text });
      });
      response.on("error", reject);
    });
    outgoing.setTimeout(90_000, () => outgoing.destroy(new Error("no answer within 90 s")));
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}
const ok = (status) => status >= 200 && status < 300;

const errors = { write: 0, poll: 0, setup: 0, samples: [] };
function error(kind, detail) {
  errors[kind] += 1;
  if (errors.samples.length < 10) errors.samples.push(`${kind}: ${detail}`);
}

const apps = Array.from({ length: writers }, (_, i) => `load-${i}`);
const sent = new Map(); // `${app}@${revision}` → ms the PUT was sent
const lastRevision = new Map(); // app → last revision a writer was answered
const notified = []; // [app, revision, ms answered]
const daemonRevisions = new Array(daemons).fill(0);
let stopping = false;
let polls = 0;

async function put(base, app, content) {
  const started = performance.now();
  const response = await request("PUT", `${base}/v1/apps/${app}/files/state.txt`, { authorization: `Bearer ${key}` }, content);
  if (!ok(response.status)) throw new Error(`PUT ${response.status} ${response.text}`);
  const { revision } = JSON.parse(response.text);
  return { started, revision };
}

async function setup() {
  const tokens = [];
  for (const [i, app] of apps.entries()) {
    const base = instances[i % instances.length];
    const { revision } = await put(base, app, "0");
    lastRevision.set(app, revision);
    const response = await request("POST", `${base}/v1/apps/${app}/sync-token`, { authorization: `Bearer ${key}` });
    if (!ok(response.status)) throw new Error(`sync-token ${response.status} ${response.text}`);
    tokens.push(JSON.parse(response.text).token);
  }
  return tokens;
}

async function daemon(index, token) {
  const app = apps[index % writers];
  const base = instances[index % instances.length];
  const headers = { authorization: `Bearer ${token}` };
  let since = null;
  while (!stopping) {
    const url =
      since === null
        ? `${base}/v1/apps/${app}/files`
        : `${base}/v1/apps/${app}/files?since=${since}&wait=30`;
    try {
      const response = await request("GET", url, headers);
      const at = performance.now();
      polls += 1;
      if (response.status === 304) continue;
      if (!ok(response.status)) throw new Error(`${response.status} ${response.text}`);
      const body = JSON.parse(response.text);
      if (since !== null && body.revision > since) notified.push([app, body.revision, at]);
      since = body.revision;
      daemonRevisions[index] = since;
    } catch (failure) {
      if (stopping) return;
      error("poll", `${app} on ${base}: ${failure.message ?? failure}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function writer(index, until) {
  const app = apps[index];
  const base = instances[index % instances.length];
  // Spread the writers' first saves over one interval.
  await new Promise((resolve) => setTimeout(resolve, (writeInterval * index) / writers));
  let count = 0;
  while (performance.now() < until) {
    count += 1;
    try {
      const { started, revision } = await put(base, app, `${index} ${count} ${Date.now()}`);
      sent.set(`${app}@${revision}`, started);
      lastRevision.set(app, revision);
    } catch (failure) {
      error("write", `${app} on ${base}: ${failure.message ?? failure}`);
    }
    await new Promise((resolve) => setTimeout(resolve, writeInterval));
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const hardStop = setTimeout(() => {
  console.error("load client: still running past its bound; exiting");
  process.exit(3);
}, (seconds + 40) * 1000);

let tokens;
try {
  tokens = await setup();
} catch (failure) {
  error("setup", failure.message ?? failure);
  console.log(JSON.stringify({ errors }));
  process.exit(1);
}
const pollers = tokens.length
  ? Array.from({ length: daemons }, (_, i) => daemon(i, tokens[i % writers]))
  : [];
// Every daemon has its full manifest before the writers start.
const settled = performance.now() + 30_000;
while (daemonRevisions.some((revision) => revision === 0) && performance.now() < settled) {
  await new Promise((resolve) => setTimeout(resolve, 200));
}
console.error(`load client: ${daemonRevisions.filter(Boolean).length} of ${daemons} daemons synced; writing for ${seconds} s`);
const started = performance.now();
const progress = setInterval(() => {
  console.error(
    `load client: ${Math.round((performance.now() - started) / 1000)} s, ${sent.size} writes, ${notified.length} notifications, errors ${errors.write + errors.poll}`,
  );
}, 10_000);
await Promise.all(Array.from({ length: writers }, (_, i) => writer(i, started + seconds * 1000)));
clearInterval(progress);
// The last saves' notifications.
const drain = performance.now() + 10_000;
const behind = () => daemonRevisions.filter((revision, i) => revision < lastRevision.get(apps[i % writers])).length;
while (behind() > 0 && performance.now() < drain) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const daemonsBehind = behind();
// Long-polls still open are dropped with the process once the summary is out.
stopping = true;

const latencies = notified
  .map(([app, revision, at]) => {
    const sentAt = sent.get(`${app}@${revision}`);
    return sentAt === undefined ? null : at - sentAt;
  })
  .filter((latency) => latency !== null)
  .sort((a, b) => a - b);
const round = (ms) => (ms === null ? null : Math.round(ms));
console.log(
  JSON.stringify({
    instances: instances.length,
    daemons,
    writers,
    seconds,
    write_interval_ms: writeInterval,
    writes: sent.size,
    polls,
    notifications: notified.length,
    notified_p50_ms: round(percentile(latencies, 50)),
    notified_p99_ms: round(percentile(latencies, 99)),
    notified_max_ms: round(latencies.at(-1) ?? null),
    daemons_behind_at_end: daemonsBehind,
    errors,
  }),
);
clearTimeout(hardStop);
process.exit(0);
