// The client against a real provisioner (local driver, temporary data dir)
// started for this file; streams go through a proxy that can cut them.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import { ApiError, createClient } from "../dist/index.js";
import { startCuttingProxy } from "./support/cutting-proxy.mjs";
import { DEV_SERVER, startProvisioner } from "./support/provisioner.mjs";

let server;
let api;

before(async () => {
  server = await startProvisioner();
  api = createClient({ baseUrl: server.baseUrl, apiKey: server.apiKey });
});

after(async () => {
  await server?.stop();
});

/** Polls `check` every 25 ms until it holds, for at most `ms`. */
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test("a saved file reads back as text and as bytes, and the manifest lists it", async () => {
  const text = "export const greeting = 'héllo';\n";
  const saved = await api.saveFile("notes", "src/a dir/héllo.js", text);
  assert.equal(saved.revision, 1);
  assert.equal(saved.changed, 1);
  assert.equal(await api.readFile("notes", "src/a dir/héllo.js"), text);
  const bytes = new Uint8Array([0, 255, 1, 254]);
  await api.saveFile("notes", "logo.bin", bytes);
  assert.deepEqual(await api.readFileBytes("notes", "logo.bin"), bytes);
  const manifest = await api.listFiles("notes");
  assert.equal(manifest.revision, 2);
  assert.deepEqual(
    manifest.files.map((file) => [file.path, file.size]),
    [["logo.bin", 4], ["src/a dir/héllo.js", new TextEncoder().encode(text).length]],
  );
});

test("a batch of writes, binary content and deletes is one revision", async () => {
  await api.saveFiles("batch", [
    { path: "index.html", content: "<h1>hi</h1>" },
    { path: "icon.bin", content: new Uint8Array(70_000).map((_, index) => index % 251) },
  ]);
  const batch = await api.saveFiles("batch", [
    { path: "index.html", delete: true },
    { path: "main.js", content: "console.log(1)" },
  ]);
  assert.deepEqual([batch.revision, batch.changed], [2, 2]);
  const icon = await api.readFileBytes("batch", "icon.bin");
  assert.deepEqual([icon.length, icon[252], icon[69_999]], [70_000, 1, 69_999 % 251]);
  const deleted = await api.deleteFile("batch", "main.js");
  assert.equal(deleted.revision, 3);
  assert.deepEqual((await api.listFiles("batch")).files.map((file) => file.path), ["icon.bin"]);
});

test("a refusal becomes an ApiError with its status, code and message", async () => {
  const refused = (code, status) => (error) => {
    assert.ok(error instanceof ApiError, `${error}`);
    assert.deepEqual([error.status, error.code], [status, code]);
    assert.ok(error.message.length > 0);
    return true;
  };
  await assert.rejects(api.saveFile("errors", "node_modules/x.js", "x"), refused("path_invalid", 400));
  await assert.rejects(api.readFile("errors", "missing.js"), refused("file_not_found", 404));
  await assert.rejects(api.getPreview("errors"), refused("preview_not_found", 404));
  await assert.rejects(api.saveFile("errors", "a.js", "x", { wait: "rendered", timeoutSeconds: 121 }), refused("timeout_too_long", 400));
  await assert.rejects(api.listPreviews({ state: "asleep" }), refused("state_invalid", 400));
  const stranger = createClient({ baseUrl: server.baseUrl, apiKey: "not-the-key" });
  await assert.rejects(stranger.listPreviews(), refused("unauthorized", 401));
});

test("a write waiting for its render answers at once when no preview runs", async () => {
  const started = Date.now();
  const saved = await api.saveFile("unrendered", "a.js", "1", { wait: "rendered", timeoutSeconds: 60 });
  assert.equal(saved.render.outcome, "no_preview");
  assert.equal(saved.render.revision, 1);
  const batch = await api.saveFiles("unrendered", [{ path: "b.js", content: "2" }], { wait: "rendered" });
  assert.equal(batch.render.outcome, "no_preview");
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});

test("settings are read and merge-patched, env values stay write-only", async () => {
  assert.deepEqual((await api.getSettings("configured")).env_keys, []);
  const patched = await api.patchSettings("configured", { dev_command: "npm run dev", env: { API_URL: "https://api.example" } });
  assert.equal(patched.dev_command, "npm run dev");
  assert.deepEqual(patched.env_keys, ["API_URL"]);
  assert.ok(!JSON.stringify(await api.getSettings("configured")).includes("api.example"));
  const cleared = await api.patchSettings("configured", { dev_command: null });
  assert.equal(cleared.dev_command, null);
  await assert.rejects(api.patchSettings("configured", { colour: "red" }), (error) => error.code === "unknown_setting");
});

test("preview links are minted with their lifetime and revoked", async () => {
  const before = Date.now();
  const link = await api.createPreviewLink("linked", { ttlSeconds: 3600 });
  assert.ok(link.token.startsWith("pa1.linked."), link.token);
  assert.ok(link.url.includes(encodeURIComponent(link.token)) || link.url.includes(link.token), link.url);
  const lifetime = Date.parse(link.expires_at) - before;
  assert.ok(lifetime > 3_590_000 && lifetime < 3_610_000, `${lifetime}`);
  const byDefault = await api.createPreviewLink("linked");
  assert.ok(Date.parse(byDefault.expires_at) - before > 11 * 3600_000);
  await assert.rejects(api.createPreviewLink("linked", { ttlSeconds: 5 }), (error) => error.code === "ttl_out_of_range");
  await api.revokePreviewLinks("linked");
  const after = await api.createPreviewLink("linked", { ttlSeconds: 3600 });
  assert.notEqual(after.token, link.token);
});

/** Ships `texts` as the app's daemon does (with a sync token). */
async function shipLogs(appId, texts) {
  const { body } = await server.call("POST", `/v1/apps/${appId}/sync-token`);
  const lines = texts.map((text) => ({ at_ms: Date.now(), source: "dev_server", text }));
  const shipped = await server.call("POST", `/v1/apps/${appId}/logs`, { body: { lines }, token: body.token });
  assert.equal(shipped.status, 204, JSON.stringify(shipped.body));
}

test("logs are read in pages from a cursor", async () => {
  await shipLogs("logged", ["one", "two", "three"]);
  const page = await api.getLogs("logged", { since: 0 });
  assert.deepEqual(page.lines.map((line) => [line.source, line.text]), [["dev_server", "one"], ["dev_server", "two"], ["dev_server", "three"]]);
  const next = await api.getLogs("logged", { since: page.cursor - 2, limit: 1 });
  assert.deepEqual(next.lines.map((line) => line.text), ["two"]);
  assert.equal(next.cursor, page.cursor - 1);
});

test("a followed log resumes after a dropped connection with Last-Event-ID, each line once", async () => {
  const proxy = await startCuttingProxy(server.baseUrl);
  const client = createClient({ baseUrl: proxy.url, apiKey: server.apiKey });
  const controller = new AbortController();
  const received = [];
  const reconnects = [];
  await shipLogs("followed", ["kept before"]);
  const following = client.followLogs("followed", (line, cursor) => received.push([line.text, cursor]), {
    since: 1,
    signal: controller.signal,
    backoff: { initialMs: 50 },
    onReconnect: (error) => reconnects.push(error),
  });
  try {
    await shipLogs("followed", ["a", "b"]);
    await until(() => received.length === 2, 10_000, "the first two lines");
    proxy.cut();
    await shipLogs("followed", ["c", "d"]);
    await until(() => received.length >= 4, 10_000, "the lines after the cut");
    assert.deepEqual(received.map(([text]) => text), ["a", "b", "c", "d"]);
    assert.deepEqual(received.map(([, cursor]) => cursor), [2, 3, 4, 5]);
    assert.ok(reconnects.length >= 1);
    const resumed = proxy.heads.filter((head) => head.includes("/logs/stream")).at(-1);
    assert.match(resumed, /^last-event-id: 3$/im);
  } finally {
    controller.abort();
    await following;
    await proxy.close();
  }
});

test("a followed preview sends its snapshot again after a dropped connection, then its state changes", async () => {
  await api.saveFiles("evented", [
    { path: "server.js", content: DEV_SERVER },
    { path: "message.txt", content: "hello" },
  ]);
  const running = await api.provision("evented", { timeoutSeconds: 60 });
  assert.equal(running.state, "running", JSON.stringify(running));
  assert.ok((await api.listPreviews({ state: "running" })).some((preview) => preview.app_id === "evented"));
  await api.heartbeat("evented");
  const restart = await api.restart("evented");
  assert.equal(restart.kind, "restart");
  const proxy = await startCuttingProxy(server.baseUrl);
  const client = createClient({ baseUrl: proxy.url, apiKey: server.apiKey });
  const controller = new AbortController();
  const events = [];
  const following = client.followEvents("evented", (event) => events.push(event), {
    signal: controller.signal,
    backoff: { initialMs: 50 },
  });
  try {
    await until(() => events.length >= 1, 10_000, "the first snapshot");
    assert.equal(events[0].type, "snapshot");
    assert.equal(events[0].preview.state, "running");
    proxy.cut();
    await until(() => events.filter((event) => event.type === "snapshot").length >= 2, 10_000, "a snapshot after the cut");
    const destroyed = await api.destroy("evented");
    assert.equal(destroyed.app_id, "evented");
    await until(
      () => events.some((event) => event.type === "state" && event.preview.state === "deleted"),
      20_000,
      "the deleted state",
    );
  } finally {
    controller.abort();
    await following;
    await proxy.close();
  }
  await assert.rejects(api.rebuild("evented"), (error) => error.code === "preview_not_running" && error.status === 409);
});

test("following an app without a preview ends with its ApiError", async () => {
  await assert.rejects(api.followEvents("nobody", () => {}), (error) => error.code === "preview_not_found");
});
