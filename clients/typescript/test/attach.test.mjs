// attachPreview with fakes: a window and a document whose events the test
// fires, a client that counts heartbeats, and Node's mock timers.

import { test, mock } from "node:test";
import assert from "node:assert/strict";

import { attachPreview, isPreviewMessage } from "../dist/index.js";

const PREVIEW = "http://preview-shop.localhost:8080";

function fakes({ visibility = "visible" } = {}) {
  const listeners = { message: new Set(), visibilitychange: new Set() };
  const target = {
    addEventListener: (type, listener) => listeners[type].add(listener),
    removeEventListener: (type, listener) => listeners[type].delete(listener),
  };
  const frameWindow = { name: "the preview's window" };
  const heartbeats = [];
  return {
    listeners,
    heartbeats,
    frameWindow,
    frame: { src: `${PREVIEW}/`, contentWindow: frameWindow },
    window: target,
    document: { ...target, visibilityState: visibility },
    client: {
      heartbeat: async (appId) => {
        heartbeats.push(appId);
      },
      provision: async () => ({ url: `${PREVIEW}/` }),
    },
    post(data, origin = PREVIEW, source = frameWindow) {
      for (const listener of listeners.message) listener({ data, origin, source });
    },
    show(state) {
      this.document.visibilityState = state;
      for (const listener of listeners.visibilitychange) listener();
    },
  };
}

const message = (overrides = {}) => ({
  source: "preview",
  version: 1,
  type: "error",
  revision: 12,
  state: "error",
  event: { type: "error", message: "render-boom", file: "src/App.jsx", line: 9, url: "/" },
  ...overrides,
});

test("only messages from the preview's origin and frame, in the documented format, reach onMessage", () => {
  const page = fakes();
  const received = [];
  const detach = attachPreview(page.frame, { ...page, appId: "shop", onMessage: (data) => received.push(data) });
  page.post(message());
  page.post(message(), "http://evil.example");
  page.post(message(), "http://preview-other.localhost:8080");
  page.post(message(), PREVIEW, { name: "another window of the same origin" });
  page.post({ ...message(), version: 2 });
  page.post({ ...message(), source: "someone" });
  page.post({ ...message(), type: "made-up", event: { type: "made-up" } });
  page.post({ ...message(), revision: "12" });
  page.post({ ...message(), event: null });
  page.post("a string");
  page.post(message({ type: "hmr-applied", state: "rendered", event: { type: "hmr-applied" } }));
  page.post(message({ type: "load", revision: null, state: null, event: { type: "load", url: "/" } }));
  assert.deepEqual(
    received.map((data) => data.type),
    ["error", "hmr-applied", "load"],
  );
  detach();
  page.post(message());
  assert.equal(received.length, 3, "nothing arrives after detach");
  assert.equal(page.listeners.message.size, 0);
  assert.equal(page.listeners.visibilitychange.size, 0);
});

test("heartbeats go out while the page is visible and stop while it is hidden", () => {
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    const page = fakes();
    const detach = attachPreview(page.frame, { ...page, appId: "shop", heartbeatSeconds: 10 });
    assert.equal(page.heartbeats.length, 1, "one at once");
    mock.timers.tick(30_000);
    assert.equal(page.heartbeats.length, 4);
    page.show("hidden");
    mock.timers.tick(60_000);
    assert.equal(page.heartbeats.length, 4, "none while hidden");
    page.show("visible");
    assert.equal(page.heartbeats.length, 5, "one as soon as it shows again");
    mock.timers.tick(10_000);
    assert.equal(page.heartbeats.length, 6);
    detach();
    mock.timers.tick(60_000);
    assert.equal(page.heartbeats.length, 6, "none after detach");
    assert.deepEqual(new Set(page.heartbeats), new Set(["shop"]));
  } finally {
    mock.timers.reset();
  }
});

test("a page hidden when attached sends no heartbeat until it shows", () => {
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    const page = fakes({ visibility: "hidden" });
    const detach = attachPreview(page.frame, { ...page, appId: "shop", heartbeatSeconds: 5 });
    mock.timers.tick(20_000);
    assert.equal(page.heartbeats.length, 0);
    page.show("visible");
    assert.equal(page.heartbeats.length, 1);
    detach();
  } finally {
    mock.timers.reset();
  }
});

test("a frame without a source shows the provisioned preview and then hears from it", async () => {
  const page = fakes();
  page.frame.src = "";
  const received = [];
  const detach = attachPreview(page.frame, { ...page, appId: "shop", onMessage: (data) => received.push(data) });
  page.post(message());
  assert.equal(received.length, 0, "no origin is trusted before the preview's URL is known");
  await new Promise((settled) => setImmediate(settled));
  assert.equal(page.frame.src, `${PREVIEW}/`);
  page.post(message());
  assert.equal(received.length, 1);
  detach();
});

test("a given source replaces the frame's, and its origin is the one trusted", () => {
  const page = fakes();
  const link = "http://preview-shop.localhost:9090/__preview/access?token=pa1.shop.x";
  const received = [];
  const detach = attachPreview(page.frame, { ...page, appId: "shop", src: link, onMessage: (data) => received.push(data) });
  assert.equal(page.frame.src, link);
  page.post(message());
  page.post(message(), "http://preview-shop.localhost:9090");
  assert.equal(received.length, 1);
  detach();
});

test("isPreviewMessage accepts the documented example", () => {
  assert.ok(isPreviewMessage(message()));
  assert.ok(!isPreviewMessage({ ...message(), state: "shown" }));
  assert.ok(!isPreviewMessage(null));
});
