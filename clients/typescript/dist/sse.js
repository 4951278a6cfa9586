/**
 * Server-sent events over `fetch`. `EventSource` cannot send an
 * `Authorization` header, so streams are read with `fetch` and this parser
 * (the WHATWG event-stream rules: `event`, `data`, `id`, `retry`, comments,
 * any line ending). `follow` reconnects with backoff and `Last-Event-ID`
 * until its signal aborts, and gives up only on an answer a retry cannot
 * change (a 4xx other than 408 and 429).
 */
import { ApiError, errorFrom } from "./errors.js";
/** Feeds text in any chunking, hands out each complete event. */
export class EventStreamParser {
    buffer = "";
    started = false;
    eventType = "";
    data = [];
    hasData = false;
    lastEventId;
    /** The reconnection delay the server asked for (`retry:`), in ms. */
    retryMs;
    constructor(lastEventId = "") {
        this.lastEventId = lastEventId;
    }
    push(chunk) {
        this.buffer += chunk;
        if (!this.started && this.buffer.length > 0) {
            if (this.buffer.charCodeAt(0) === 0xfeff)
                this.buffer = this.buffer.slice(1);
            this.started = true;
        }
        const events = [];
        for (;;) {
            const end = this.buffer.search(/[\r\n]/);
            if (end < 0)
                break;
            // A lone `\r` at the end may be the first half of `\r\n`: wait for more.
            if (this.buffer[end] === "\r" && end === this.buffer.length - 1)
                break;
            const line = this.buffer.slice(0, end);
            const skip = this.buffer.startsWith("\r\n", end) ? 2 : 1;
            this.buffer = this.buffer.slice(end + skip);
            const event = this.line(line);
            if (event)
                events.push(event);
        }
        return events;
    }
    line(line) {
        if (line === "")
            return this.dispatch();
        if (line.startsWith(":"))
            return undefined;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" "))
            value = value.slice(1);
        if (field === "event")
            this.eventType = value;
        else if (field === "data") {
            this.data.push(value);
            this.hasData = true;
        }
        else if (field === "id" && !value.includes("\0"))
            this.lastEventId = value;
        else if (field === "retry" && /^\d+$/.test(value))
            this.retryMs = Number(value);
        return undefined;
    }
    dispatch() {
        const event = this.hasData
            ? { event: this.eventType || "message", data: this.data.join("\n"), id: this.lastEventId }
            : undefined;
        this.eventType = "";
        this.data = [];
        this.hasData = false;
        return event;
    }
}
/**
 * Reads events until `signal` aborts (then resolves), reconnecting after a
 * dropped connection, a stream the server ended, a 5xx, 408 or 429.
 */
export async function follow(open, onEvent, options = {}) {
    const signal = options.signal ?? new AbortController().signal;
    const initialMs = options.backoff?.initialMs ?? 250;
    const maxMs = options.backoff?.maxMs ?? 10_000;
    let lastEventId = options.lastEventId ?? "";
    let failures = 0;
    while (!signal.aborted) {
        let serverRetryMs;
        let error;
        try {
            const headers = { accept: "text/event-stream" };
            if (lastEventId !== "")
                headers["last-event-id"] = lastEventId;
            const response = await open(headers, signal);
            if (!response.ok) {
                const refusal = await errorFrom(response);
                if (!retryable(refusal.status))
                    throw refusal;
                serverRetryMs = refusal.retryAfter === undefined ? undefined : refusal.retryAfter * 1000;
                error = refusal;
            }
            else {
                const parser = new EventStreamParser(lastEventId);
                await read(response, parser, (event) => {
                    // A stream that delivers is healthy: the next failure starts the backoff again.
                    failures = 0;
                    lastEventId = event.id;
                    onEvent(event);
                });
                lastEventId = parser.lastEventId;
                serverRetryMs = parser.retryMs;
                error = new Error("the server ended the stream");
            }
        }
        catch (caught) {
            if (caught instanceof CallbackFailed)
                throw caught.cause;
            if (signal.aborted)
                return;
            if (caught instanceof ApiError && !retryable(caught.status))
                throw caught;
            error = caught;
        }
        const waitMs = serverRetryMs ?? Math.min(maxMs, initialMs * 2 ** failures);
        failures += 1;
        options.onReconnect?.(error, waitMs);
        await sleep(waitMs, signal);
    }
}
/** The caller's own callback threw: not the stream's failure, so never retried. */
class CallbackFailed {
    cause;
    constructor(cause) {
        this.cause = cause;
    }
}
function retryable(status) {
    return status >= 500 || status === 408 || status === 429;
}
async function read(response, parser, onEvent) {
    if (!response.body)
        return;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
        const { done, value } = await reader.read();
        if (done)
            return;
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
            try {
                onEvent(event);
            }
            catch (error) {
                await reader.cancel().catch(() => undefined);
                throw new CallbackFailed(error);
            }
        }
    }
}
/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal.aborted)
            return resolve();
        const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
    });
}
