/**
 * A preview inside an editor's iframe: keep it awake while someone can see
 * it, and hear what the page reports. The preview's gateway posts each page
 * event to the framing window (docs/render.md, format v1); a message counts
 * only when it comes from the preview's origin (and its frame, when the
 * browser says which window sent it) and has that exact shape, because any
 * other window may post anything to the editor.
 */
const PAGE_EVENT_TYPES = [
    "error",
    "rejection",
    "overlay",
    "console-error",
    "hmr-applied",
    "load",
    "navigation",
];
const RENDER_STATES = ["applied", "compiled", "error", "rendered"];
/** Whether `data` is a format-v1 preview message. */
export function isPreviewMessage(data) {
    if (typeof data !== "object" || data === null)
        return false;
    const message = data;
    const event = message.event;
    return (message.source === "preview" &&
        message.version === 1 &&
        typeof message.type === "string" &&
        PAGE_EVENT_TYPES.includes(message.type) &&
        (message.revision === null || (typeof message.revision === "number" && Number.isInteger(message.revision))) &&
        (message.state === null || (typeof message.state === "string" && RENDER_STATES.includes(message.state))) &&
        typeof event === "object" &&
        event !== null &&
        event.type === message.type);
}
/** Starts heartbeats and listening; returns the function that stops both. */
export function attachPreview(frame, options) {
    const host = options.window ?? globalThis;
    const page = options.document ?? globalThis.document;
    const onError = options.onError ?? (() => undefined);
    const periodMs = (options.heartbeatSeconds ?? 30) * 1000;
    let previewOrigin;
    let timer;
    let attached = true;
    const show = (src) => {
        previewOrigin = originOf(src);
        if (frame.src !== src)
            frame.src = src;
    };
    if (options.src)
        show(options.src);
    else if (frame.src)
        show(frame.src);
    else {
        options.client.provision(options.appId, { wait: false }).then((preview) => {
            if (attached && preview.url)
                show(preview.url);
        }, onError);
    }
    const beat = () => {
        options.client.heartbeat(options.appId).catch(onError);
    };
    const visible = () => page === undefined || page.visibilityState === "visible";
    const schedule = () => {
        if (visible() && timer === undefined) {
            beat();
            timer = setInterval(beat, periodMs);
        }
        else if (!visible() && timer !== undefined) {
            clearInterval(timer);
            timer = undefined;
        }
    };
    const onMessage = (event) => {
        if (previewOrigin === undefined || event.origin !== previewOrigin)
            return;
        if (frame.contentWindow && event.source !== undefined && event.source !== frame.contentWindow)
            return;
        if (!isPreviewMessage(event.data))
            return;
        options.onMessage?.(event.data);
    };
    host.addEventListener("message", onMessage);
    page?.addEventListener("visibilitychange", schedule);
    schedule();
    return () => {
        if (!attached)
            return;
        attached = false;
        host.removeEventListener("message", onMessage);
        page?.removeEventListener("visibilitychange", schedule);
        if (timer !== undefined)
            clearInterval(timer);
        timer = undefined;
    };
}
function originOf(src) {
    try {
        const origin = new URL(src).origin;
        return origin === "null" ? undefined : origin;
    }
    catch {
        return undefined;
    }
}
