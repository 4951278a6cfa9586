/**
 * The provisioner's API as methods: one per route an editor uses, named for
 * what it does. Bodies are the API's own JSON (snake_case, as documented);
 * options are camelCase. Every refusal is thrown as an `ApiError`.
 */
import { base64, empty, filePath, json, segment, send, url } from "./http.js";
import { follow } from "./sse.js";
export function createClient(options) {
    const transport = {
        baseUrl: options.baseUrl,
        apiKey: options.apiKey,
        fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    };
    const app = (appId) => `/v1/apps/${segment(appId)}`;
    const waitQuery = (options = {}) => ({
        wait: options.wait,
        timeout: options.wait === undefined ? undefined : options.timeoutSeconds,
    });
    const powerQuery = (options = {}) => ({
        wait: options.wait === false ? false : undefined,
        timeout: options.timeoutSeconds,
    });
    const preview = (appId, method, path, options) => json(transport, { method, path: `${app(appId)}${path}`, query: powerQuery(options) });
    const stream = (appId, path, query) => (headers, signal) => transport.fetch(url(transport, `${app(appId)}${path}`, query), {
        headers: transport.apiKey === undefined ? headers : { ...headers, authorization: `Bearer ${transport.apiKey}` },
        signal,
    });
    return {
        baseUrl: options.baseUrl,
        saveFile: (appId, path, content, options) => json(transport, {
            method: "PUT",
            path: `${app(appId)}/files/${filePath(path)}`,
            query: waitQuery(options),
            body: content,
            headers: { "content-type": "application/octet-stream" },
            signal: options?.signal,
        }),
        saveFiles: (appId, changes, options) => json(transport, {
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
            const list = await json(transport, { path: "/v1/previews", query: { state: options.state } });
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
        createPreviewLink: (appId, options = {}) => json(transport, {
            method: "POST",
            path: `${app(appId)}/preview-links`,
            body: options.ttlSeconds === undefined ? {} : { ttl_seconds: options.ttlSeconds },
        }),
        revokePreviewLinks: (appId) => empty(transport, { method: "DELETE", path: `${app(appId)}/preview-links` }),
        getLogs: (appId, options = {}) => json(transport, { path: `${app(appId)}/logs`, query: { since: options.since, limit: options.limit } }),
        followEvents: (appId, onEvent, options = {}) => follow(stream(appId, "/preview/events", {}), (event) => onEvent(previewEvent(event.event, event.data, event.id)), options),
        followLogs: (appId, onLine, options = {}) => follow(stream(appId, "/logs/stream", { since: options.since }), (event) => {
            if (event.event === "line")
                onLine(JSON.parse(event.data), Number(event.id));
        }, options),
    };
}
function toBatchChange(change) {
    if ("delete" in change)
        return { path: change.path, delete: true };
    if (typeof change.content === "string")
        return { path: change.path, content: change.content };
    return { path: change.path, content_base64: base64(change.content) };
}
function previewEvent(name, data, id) {
    const parsed = JSON.parse(data);
    switch (name) {
        case "snapshot":
        case "state":
        case "step":
            return { type: name, preview: parsed, id };
        case "render":
            return { type: "render", render: parsed, id };
        default:
            return { type: "unknown", event: name, data: parsed, id };
    }
}
