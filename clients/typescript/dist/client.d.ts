/**
 * The provisioner's API as methods: one per route an editor uses, named for
 * what it does. Bodies are the API's own JSON (snake_case, as documented);
 * options are camelCase. Every refusal is thrown as an `ApiError`.
 */
import { type Fetch } from "./http.js";
import { type Backoff } from "./sse.js";
import type { Control, LogLine, LogPage, Manifest, Preview, PreviewLink, PreviewState, RenderReport, Settings, SettingsPatch, WriteResult } from "./types.js";
export interface ClientOptions {
    /** The provisioner, e.g. `http://127.0.0.1:8080`. */
    baseUrl: string;
    /** The operator key, sent as `Authorization: Bearer`; leave out behind a proxy that adds it. */
    apiKey?: string | undefined;
    /** `globalThis.fetch` unless given (a wrapper that adds tracing, say). */
    fetch?: Fetch | undefined;
}
/** `{ wait: "rendered" }` answers once the open preview shows the write, or failed to. */
export interface WriteOptions {
    wait?: "rendered" | undefined;
    /** How long to wait for the render, in seconds (server default 30, at most 120). */
    timeoutSeconds?: number | undefined;
    signal?: AbortSignal | undefined;
}
export type FileChange = {
    path: string;
    content: string | Uint8Array;
} | {
    path: string;
    delete: true;
};
/** Provision and wake wait (up to a minute) unless `wait: false`. */
export interface PowerOptions {
    wait?: boolean | undefined;
    timeoutSeconds?: number | undefined;
}
export type PreviewEvent = {
    type: "snapshot" | "state" | "step";
    preview: Preview;
    id: string;
} | {
    type: "render";
    render: RenderReport;
    id: string;
}
/** An event this client version does not know yet. */
 | {
    type: "unknown";
    event: string;
    data: unknown;
    id: string;
};
export interface StreamOptions {
    signal?: AbortSignal | undefined;
    backoff?: Backoff | undefined;
    /** Told of each failure the stream recovers from, before it reconnects. */
    onReconnect?: ((error: unknown, waitMs: number) => void) | undefined;
}
export interface Client {
    readonly baseUrl: string;
    saveFile(appId: string, path: string, content: string | Uint8Array, options?: WriteOptions): Promise<WriteResult>;
    saveFiles(appId: string, changes: FileChange[], options?: WriteOptions): Promise<WriteResult>;
    deleteFile(appId: string, path: string): Promise<WriteResult>;
    listFiles(appId: string): Promise<Manifest>;
    readFile(appId: string, path: string): Promise<string>;
    readFileBytes(appId: string, path: string): Promise<Uint8Array>;
    listPreviews(options?: {
        state?: PreviewState | undefined;
    }): Promise<Preview[]>;
    getPreview(appId: string): Promise<Preview>;
    provision(appId: string, options?: PowerOptions): Promise<Preview>;
    wake(appId: string, options?: PowerOptions): Promise<Preview>;
    heartbeat(appId: string): Promise<void>;
    restart(appId: string): Promise<Control>;
    rebuild(appId: string): Promise<Control>;
    destroy(appId: string): Promise<Preview>;
    getSettings(appId: string): Promise<Settings>;
    patchSettings(appId: string, patch: SettingsPatch): Promise<Settings>;
    createPreviewLink(appId: string, options?: {
        ttlSeconds?: number | undefined;
    }): Promise<PreviewLink>;
    revokePreviewLinks(appId: string): Promise<void>;
    getLogs(appId: string, options?: {
        since?: number | undefined;
        limit?: number | undefined;
    }): Promise<LogPage>;
    /** Resolves when `signal` aborts; rejects on a refusal a retry cannot change. */
    followEvents(appId: string, onEvent: (event: PreviewEvent) => void, options?: StreamOptions & {
        lastEventId?: string | undefined;
    }): Promise<void>;
    /** Each line once, with its cursor; resumes after the last line seen. */
    followLogs(appId: string, onLine: (line: LogLine, cursor: number) => void, options?: StreamOptions & {
        since?: number | undefined;
    }): Promise<void>;
}
export declare function createClient(options: ClientOptions): Client;
