// The event-stream parser and the reconnecting reader, against fakes: what
// a server may send in any chunking, and which failures are retried.

import { test } from "node:test";
import assert from "node:assert/strict";

import { EventStreamParser, follow } from "../dist/sse.js";
import { ApiError } from "../dist/index.js";
import { parseRetryAfter } from "../dist/errors.js";

const STREAM =
  "\uFEFFid: 7\r\n: keep-alive\r\nevent: line\r\ndata: {\"text\":\"a\"}\r\n\r\n" +
  "data: one\ndata: two\n\n" +
  "event: render\rdata:no-space\r\r" +
  "id: 9\nevent: line\ndata\n\n" +
  "retry: 1500\nevent: ignored-without-data\n\n";

const EXPECTED = [
  { event: "line", data: '{"text":"a"}', id: "7" },
  { event: "message", data: "one\ntwo", id: "7" },
  { event: "render", data: "no-space", id: "7" },
  { event: "line", data: "", id: "9" },
];

test("a stream parses the same whole or cut into single characters", () => {
  const whole = new EventStreamParser();
  assert.deepEqual(whole.push(STREAM), EXPECTED);
  assert.equal(whole.retryMs, 1500);
  const cut = new EventStreamParser();
  const events = [...STREAM].flatMap((character) => cut.push(character));
  assert.deepEqual(events, EXPECTED);
  assert.equal(cut.lastEventId, "9");
});

test("an event is handed out only once its blank line arrived", () => {
  const parser = new EventStreamParser("3");
  assert.deepEqual(parser.push("event: line\ndata: x\n"), []);
  assert.deepEqual(parser.push("\n"), [{ event: "line", data: "x", id: "3" }]);
});

/** A fake `fetch` answering each call with the next of `answers`. */
function answering(answers, calls) {
  return async (headers, signal) => {
    calls.push(headers);
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    if (answer === undefined) {
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    }
    return answer;
  };
}

test("a dropped stream reconnects with the last event id and stops on abort", async () => {
  const calls = [];
  const seen = [];
  const controller = new AbortController();
  const answers = [
    new Response("id: 4\nevent: line\ndata: a\n\n"),
    new TypeError("fetch failed"),
    new Response(JSON.stringify({ error: { code: "unavailable", message: "retry" } }), { status: 503 }),
    new Response("id: 5\nevent: line\ndata: b\n\n"),
  ];
  const reconnects = [];
  const done = follow(answering(answers, calls), (event) => {
    seen.push(event.data);
    if (seen.length === 2) setTimeout(() => controller.abort(), 5);
  }, {
    signal: controller.signal,
    lastEventId: "2",
    backoff: { initialMs: 1, maxMs: 4 },
    onReconnect: (error, waitMs) => reconnects.push(waitMs),
  });
  await done;
  assert.deepEqual(seen, ["a", "b"]);
  const sent = calls.map((headers) => headers["last-event-id"]);
  assert.deepEqual(sent.slice(0, 4), ["2", "4", "4", "4"]);
  assert.ok(sent.length === 4 || (sent.length === 5 && sent[4] === "5"), `${sent}`);
  // Doubling from 1 ms up to 4 ms; reset once a connection succeeded.
  assert.deepEqual(reconnects.slice(0, 3), [1, 2, 4]);
});

test("a refusal a retry cannot change ends the stream with its ApiError", async () => {
  const calls = [];
  const refusal = new Response(JSON.stringify({ error: { code: "preview_not_found", message: "no preview" } }), {
    status: 404,
  });
  await assert.rejects(
    follow(answering([refusal], calls), () => {}, { backoff: { initialMs: 1 } }),
    (error) => error instanceof ApiError && error.status === 404 && error.code === "preview_not_found",
  );
  assert.equal(calls.length, 1);
});

test("an error thrown by the caller's callback is not retried", async () => {
  const calls = [];
  const answers = [new Response("data: a\n\n"), new Response("data: b\n\n")];
  await assert.rejects(
    follow(answering(answers, calls), () => {
      throw new Error("the caller's own bug");
    }),
    /the caller's own bug/,
  );
  assert.equal(calls.length, 1);
});

test("Retry-After reads as seconds, from a number or a date", () => {
  const now = Date.parse("2026-11-27T12:00:00Z");
  assert.equal(parseRetryAfter("5", now), 5);
  assert.equal(parseRetryAfter("Fri, 27 Nov 2026 12:00:30 GMT", now), 30);
  assert.equal(parseRetryAfter(null, now), undefined);
  assert.equal(parseRetryAfter("soon", now), undefined);
});

test("a server that keeps ending the stream before any event is met with a growing backoff", async () => {
  const calls = [];
  const controller = new AbortController();
  const waits = [];
  const answers = [new Response(""), new Response(": hi\n\n"), new Response(""), new Response("")];
  await follow(answering(answers, calls), () => {}, {
    signal: controller.signal,
    backoff: { initialMs: 1, maxMs: 8 },
    onReconnect: (error, waitMs) => {
      waits.push(waitMs);
      if (waits.length === 4) controller.abort();
    },
  });
  assert.deepEqual(waits, [1, 2, 4, 8]);
  assert.equal(calls.length, 4);
});
