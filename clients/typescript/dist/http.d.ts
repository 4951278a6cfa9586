/**
 * One way to call the provisioner: the URL built from encoded segments, the
 * key sent as `Authorization: Bearer`, JSON in and out, and every non-2xx
 * answer thrown as an `ApiError`.
 */
export type Fetch = typeof globalThis.fetch;
export interface Transport {
    baseUrl: string;
    apiKey: string | undefined;
    fetch: Fetch;
}
export type Query = Record<string, string | number | boolean | undefined>;
export interface Call {
    method?: string;
    /** Already encoded (see `segment`, `filePath`). */
    path: string;
    query?: Query;
    /** JSON-encoded unless a string or bytes. */
    body?: unknown;
    headers?: Record<string, string>;
    signal?: AbortSignal | undefined;
}
/** One path segment (an app id), percent-encoded. */
export declare function segment(text: string): string;
/** A file path: each `/`-separated segment encoded, the slashes kept. */
export declare function filePath(path: string): string;
export declare function url(transport: Transport, path: string, query?: Query): string;
/** Sends the call; resolves with the 2xx answer, throws `ApiError` otherwise. */
export declare function send(transport: Transport, call: Call): Promise<Response>;
/** `send`, then the answer's JSON body. */
export declare function json<T>(transport: Transport, call: Call): Promise<T>;
/** `send` for answers without a body worth reading (204, say). */
export declare function empty(transport: Transport, call: Call): Promise<void>;
/** Base64 of bytes without `Buffer`, so browsers and Node share it. */
export declare function base64(bytes: Uint8Array): string;
