/**
 * Server-sent events over `fetch`. `EventSource` cannot send an
 * `Authorization` header, so streams are read with `fetch` and this parser
 * (the WHATWG event-stream rules: `event`, `data`, `id`, `retry`, comments,
 * any line ending). `follow` reconnects with backoff and `Last-Event-ID`
 * until its signal aborts, and gives up only on an answer a retry cannot
 * change (a 4xx other than 408 and 429).
 */
export interface ServerSentEvent {
    /** `message` when the stream named none. */
    event: string;
    data: string;
    /** The last event id seen on the stream so far (ids persist across events). */
    id: string;
}
/** Feeds text in any chunking, hands out each complete event. */
export declare class EventStreamParser {
    private buffer;
    private started;
    private eventType;
    private data;
    private hasData;
    lastEventId: string;
    /** The reconnection delay the server asked for (`retry:`), in ms. */
    retryMs: number | undefined;
    constructor(lastEventId?: string);
    push(chunk: string): ServerSentEvent[];
    private line;
    private dispatch;
}
export interface Backoff {
    /** The first wait after a failure, in ms (250). */
    initialMs?: number;
    /** The longest wait, in ms (10,000). */
    maxMs?: number;
}
export interface FollowOptions {
    signal?: AbortSignal | undefined;
    /** Sent as `Last-Event-ID` on the first connection too. */
    lastEventId?: string | undefined;
    backoff?: Backoff | undefined;
    /** Told of each failure the stream recovers from, before the wait. */
    onReconnect?: ((error: unknown, waitMs: number) => void) | undefined;
}
/** Opens the stream: a `fetch` with the headers given (`Last-Event-ID` added when known). */
export type OpenStream = (headers: Record<string, string>, signal: AbortSignal) => Promise<Response>;
/**
 * Reads events until `signal` aborts (then resolves), reconnecting after a
 * dropped connection, a stream the server ended, a 5xx, 408 or 429.
 */
export declare function follow(open: OpenStream, onEvent: (event: ServerSentEvent) => void, options?: FollowOptions): Promise<void>;
/** Resolves after `ms`, or at once when `signal` aborts. */
export declare function sleep(ms: number, signal: AbortSignal): Promise<void>;
