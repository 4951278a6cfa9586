/**
 * The provisioner's API as methods: one per route an editor uses, named for
 * what it does. Bodies are the API's own JSON (snake_case, as documented);
 * options are camelCase. Every refusal is thrown as an `ApiError`.
 */

import { type Fetch, type Transport, base64, empty, filePath, json, segment, send, url } from "./http.js";
import { type Backoff, follow } from "./sse.js";
import type {
  Control,
  LogLine,
  LogPage,
  Manifest,
  Preview,
  PreviewLink,
  PreviewState,
  RenderReport,
  Settings,
  SettingsPatch,
  WriteResult,
} from "./types.js";

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

export type FileChange =
  | { path: string; content: string | Uint8Array }
  | { path: string; delete: true };

/** Provision and wake wait (up to a minute) unless `wait: false`. */
export interface PowerOptions {
  wait?: boolean | undefined;
  timeoutSeconds?: number | undefined;
}

export type PreviewEvent =
  | { type: "snapshot" | "state" | "step"; preview: Preview; id: string }
  | { type: "render"; render: RenderReport; id: string }
  /** An event this client version does not know yet. */
  | { type: "unknown"; event: string; data: unknown; id: string };

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
  listPreviews(options?: { state?: PreviewState | undefined }): Promise<Preview[]>;
  getPreview(appId: string): Promise<Preview>;
  provision(appId: string, options?: PowerOptions): Promise<Preview>;
  wake(appId: string, options?: PowerOptions): Promise<Preview>;
  heartbeat(appId: string): Promise<void>;
  restart(appId: string): Promise<Control>;
  rebuild(appId: string): Promise<Control>;
  destroy(appId: string): Promise<Preview>;
  getSettings(appId: string): Promise<Settings>;
  patchSettings(appId: string, patch: SettingsPatch): Promise<Settings>;
  createPreviewLink(appId: string, options?: { ttlSeconds?: number | undefined }): Promise<PreviewLink>;
  revokePreviewLinks(appId: string): Promise<void>;
  getLogs(appId: string, options?: { since?: number | undefined; limit?: number | undefined }): Promise<LogPage>;
  /** Resolves when `signal` aborts; rejects on a refusal a retry cannot change. */
  followEvents(
    appId: string,
    onEvent: (event: PreviewEvent) => void,
    options?: StreamOptions & { lastEventId?: string | undefined },
  ): Promise<void>;
  /** Each line once, with its cursor; resumes after the last line seen. */
  followLogs(
    appId: string,
    onLine: (line: LogLine, cursor: number) => void,
    options?: StreamOptions & { since?: number | undefined },
  ): Promise<void>;
}

export function createClient(options: ClientOptions): Client {
  const transport: Transport = {
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
  const app = (appId: string) => `/v1/apps/${segment(appId)}`;
  const waitQuery = (options: WriteOptions = {}) => ({
    wait: options.wait,
    timeout: options.wait === undefined ? undefined : options.timeoutSeconds,
  });
  const powerQuery = (options: PowerOptions = {}) => ({
    wait: options.wait === false ? false : undefined,
    timeout: options.timeoutSeconds,
  });
  const preview = (appId: string, method: string, path: string, options?: PowerOptions) =>
    json<Preview>(transport, { method, path: `${app(appId)}${path}`, query: powerQuery(options) });
  const stream = (appId: string, path: string, query: Record<string, number | undefined>) =>
    (headers: Record<string, string>, signal: AbortSignal) =>
      transport.fetch(url(transport, `${app(appId)}${path}`, query), {
        headers: transport.apiKey === undefined ? headers : { ...headers, authorization: `Bearer ${transport.apiKey}` },
        signal,
      });

  return {
    baseUrl: options.baseUrl,
    saveFile: (appId, path, content, options) =>
      json(transport, {
        method: "PUT",
        path: `${app(appId)}/files/${filePath(path)}`,
        query: waitQuery(options),
        body: content,
        headers: { "content-type": "application/octet-stream" },
        signal: options?.signal,
      }),
    saveFiles: (appId, changes, options) =>
      json(transport, {
        method: "POST",
        path: `${app(appId)}/files`,
        query: waitQuery(options),
        body: { changes: changes.map(toBatchChange) },
        signal: options?.signal,
      }),
    deleteFile: (appId, path) => json(transport, { method: "DELETE", path: `${app(appId)}/files/${filePath(path)}` }),
    listFiles: (appId) => json(transport, { path: `${app(appId)}/files` }),
    readFile: async (appId, path) => {
      const response = await send(transport, { path: `${app(appId)}/files/${filePath(path)}` });
      return response.text();
    },
    readFileBytes: async (appId, path) => {
      const response = await send(transport, { path: `${app(appId)}/files/${filePath(path)}` });
      return new Uint8Array(await response.arrayBuffer());
    },
    listPreviews: async (options = {}) => {
      const list = await json<{ previews: Preview[] }>(transport, { path: "/v1/previews", query: { state: options.state } });
      return list.previews;
    },
    getPreview: (appId) => json(transport, { path: `${app(appId)}/preview` }),
    provision: (appId, options) => preview(appId, "POST", "/provision-preview", options),
    wake: (appId, options) => preview(appId, "POST", "/wake-preview", options),
    heartbeat: (appId) => empty(transport, { method: "POST", path: `${app(appId)}/activity` }),
    restart: (appId) => json(transport, { method: "POST", path: `${app(appId)}/preview/restart` }),
    rebuild: (appId) => json(transport, { method: "POST", path: `${app(appId)}/preview/rebuild` }),
    destroy: (appId) => json(transport, { method: "DELETE", path: `${app(appId)}/preview` }),
    getSettings: (appId) => json(transport, { path: `${app(appId)}/settings` }),
    patchSettings: (appId, patch) => json(transport, { method: "PATCH", path: `${app(appId)}/settings`, body: patch }),
    createPreviewLink: (appId, options = {}) =>
      json(transport, {
        method: "POST",
        path: `${app(appId)}/preview-links`,
        body: options.ttlSeconds === undefined ? {} : { ttl_seconds: options.ttlSeconds },
      }),
    revokePreviewLinks: (appId) => empty(transport, { method: "DELETE", path: `${app(appId)}/preview-links` }),
    getLogs: (appId, options = {}) =>
      json(transport, { path: `${app(appId)}/logs`, query: { since: options.since, limit: options.limit } }),
    followEvents: (appId, onEvent, options = {}) =>
      follow(stream(appId, "/preview/events", {}), (event) => onEvent(previewEvent(event.event, event.data, event.id)), options),
    followLogs: (appId, onLine, options = {}) =>
      follow(
        stream(appId, "/logs/stream", { since: options.since }),
        (event) => {
          if (event.event === "line") onLine(JSON.parse(event.data) as LogLine, Number(event.id));
        },
        options,
      ),
  };
}

function toBatchChange(change: FileChange): Record<string, unknown> {
  if ("delete" in change) return { path: change.path, delete: true };
  if (typeof change.content === "string") return { path: change.path, content: change.content };
  return { path: change.path, content_base64: base64(change.content) };
}

function previewEvent(name: string, data: string, id: string): PreviewEvent {
  const parsed: unknown = JSON.parse(data);
  switch (name) {
    case "snapshot":
    case "state":
    case "step":
      return { type: name, preview: parsed as Preview, id };
    case "render":
      return { type: "render", render: parsed as RenderReport, id };
    default:
      return { type: "unknown", event: name, data: parsed, id };
  }
}
