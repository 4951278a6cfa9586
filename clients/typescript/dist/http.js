/**
 * One way to call the provisioner: the URL built from encoded segments, the
 * key sent as `Authorization: Bearer`, JSON in and out, and every non-2xx
 * answer thrown as an `ApiError`.
 */
import { errorFrom } from "./errors.js";
/** One path segment (an app id), percent-encoded. */
export function segment(text) {
    return encodeURIComponent(text);
}
/** A file path: each `/`-separated segment encoded, the slashes kept. */
export function filePath(path) {
    return path.split("/").map(encodeURIComponent).join("/");
}
export function url(transport, path, query = {}) {
    const base = transport.baseUrl.replace(/\/+$/, "");
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
        if (value !== undefined)
            search.set(name, String(value));
    }
    const text = search.toString();
    return `${base}${path}${text ? `?${text}` : ""}`;
}
/** Sends the call; resolves with the 2xx answer, throws `ApiError` otherwise. */
export async function send(transport, call) {
    const headers = { ...call.headers };
    if (transport.apiKey !== undefined)
        headers["authorization"] = `Bearer ${transport.apiKey}`;
    let body;
    if (typeof call.body === "string") {
        body = call.body;
        headers["content-type"] ??= "text/plain; charset=utf-8";
    }
    else if (call.body instanceof Uint8Array) {
        body = call.body;
        headers["content-type"] ??= "application/octet-stream";
    }
    else if (call.body !== undefined) {
        body = JSON.stringify(call.body);
        headers["content-type"] = "application/json";
    }
    const init = { method: call.method ?? "GET", headers };
    if (body !== undefined)
        init.body = body;
    if (call.signal)
        init.signal = call.signal;
    const response = await transport.fetch(url(transport, call.path, call.query), init);
    if (!response.ok)
        throw await errorFrom(response);
    return response;
}
/** `send`, then the answer's JSON body. */
export async function json(transport, call) {
    const response = await send(transport, call);
    return (await response.json());
}
/** `send` for answers without a body worth reading (204, say). */
export async function empty(transport, call) {
    const response = await send(transport, call);
    await response.body?.cancel();
}
/** Base64 of bytes without `Buffer`, so browsers and Node share it. */
export function base64(bytes) {
    let binary = "";
    const chunk = 0x8000;
    for (let start = 0; start < bytes.length; start += chunk) {
        binary += String.fromCharCode(...bytes.subarray(start, start + chunk));
    }
    return btoa(binary);
}
