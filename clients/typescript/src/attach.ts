/**
 * A preview inside an editor's iframe: keep it awake while someone can see
 * it, and hear what the page reports. The preview's gateway posts each page
 * event to the framing window (docs/render.md, format v1); a message counts
 * only when it comes from the preview's origin (and its frame, when the
 * browser says which window sent it) and has that exact shape, because any
 * other window may post anything to the editor.
 */

import type { PageEvent, PageEventType, RenderState } from "./types.js";

/** What the preview's page script posts to the editor window. */
export interface PreviewMessage {
  source: "preview";
  version: 1;
  type: PageEventType;
  revision: number | null;
  state: RenderState | null;
  event: PageEvent;
}

const PAGE_EVENT_TYPES: readonly string[] = [
  "error",
  "rejection",
  "overlay",
  "console-error",
  "hmr-applied",
  "load",
  "navigation",
] satisfies PageEventType[];
const RENDER_STATES: readonly string[] = ["applied", "compiled", "error", "rendered"] satisfies RenderState[];

/** Whether `data` is a format-v1 preview message. */
export function isPreviewMessage(data: unknown): data is PreviewMessage {
  if (typeof data !== "object" || data === null) return false;
  const message = data as Record<string, unknown>;
  const event = message.event as Record<string, unknown> | null | undefined;
  return (
    message.source === "preview" &&
    message.version === 1 &&
    typeof message.type === "string" &&
    PAGE_EVENT_TYPES.includes(message.type) &&
    (message.revision === null || (typeof message.revision === "number" && Number.isInteger(message.revision))) &&
    (message.state === null || (typeof message.state === "string" && RENDER_STATES.includes(message.state))) &&
    typeof event === "object" &&
    event !== null &&
    event.type === message.type
  );
}

/** What attaching needs of an iframe (an `HTMLIFrameElement` has it). */
export interface FrameLike {
  src: string;
  readonly contentWindow?: unknown;
}

export interface MessageEventLike {
  origin: string;
  data: unknown;
  source?: unknown;
}

export interface WindowLike {
  addEventListener(type: "message", listener: (event: MessageEventLike) => void): void;
  removeEventListener(type: "message", listener: (event: MessageEventLike) => void): void;
}

export interface DocumentLike {
  readonly visibilityState: string;
  addEventListener(type: "visibilitychange", listener: () => void): void;
  removeEventListener(type: "visibilitychange", listener: () => void): void;
}

/** The calls attaching makes (a `Client` has them). */
export interface AttachClient {
  heartbeat(appId: string): Promise<void>;
  provision(appId: string, options?: { wait?: boolean }): Promise<{ url: string | null }>;
}

export interface AttachOptions {
  client: AttachClient;
  appId: string;
  /** Each preview message, already checked for origin and format. */
  onMessage?: ((message: PreviewMessage) => void) | undefined;
  /** Seconds between heartbeats while the page is visible (30; the idle stop is minutes). */
  heartbeatSeconds?: number | undefined;
  /**
   * The URL to show (a private preview's link, say). Without it the
   * iframe's own `src` is used, or, when it has none, the preview is
   * provisioned (without waiting: its URL shows a loading page) and its URL set.
   */
  src?: string | undefined;
  /** Told of failed heartbeats and provisions; attaching goes on. */
  onError?: ((error: unknown) => void) | undefined;
  /** The window and document to listen to (the global ones by default; fakes in tests). */
  window?: WindowLike | undefined;
  document?: DocumentLike | undefined;
}

/** Starts heartbeats and listening; returns the function that stops both. */
export function attachPreview(frame: FrameLike, options: AttachOptions): () => void {
  const host = options.window ?? (globalThis as unknown as WindowLike);
  const page = options.document ?? (globalThis as { document?: DocumentLike }).document;
  const onError = options.onError ?? (() => undefined);
  const periodMs = (options.heartbeatSeconds ?? 30) * 1000;
  let previewOrigin: string | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let attached = true;

  const show = (src: string) => {
    previewOrigin = originOf(src);
    if (frame.src !== src) frame.src = src;
  };
  if (options.src) show(options.src);
  else if (frame.src) show(frame.src);
  else {
    options.client.provision(options.appId, { wait: false }).then((preview) => {
      if (attached && preview.url) show(preview.url);
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
    } else if (!visible() && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  const onMessage = (event: MessageEventLike) => {
    if (previewOrigin === undefined || event.origin !== previewOrigin) return;
    if (frame.contentWindow && event.source !== undefined && event.source !== frame.contentWindow) return;
    if (!isPreviewMessage(event.data)) return;
    options.onMessage?.(event.data);
  };

  host.addEventListener("message", onMessage);
  page?.addEventListener("visibilitychange", schedule);
  schedule();

  return () => {
    if (!attached) return;
    attached = false;
    host.removeEventListener("message", onMessage);
    page?.removeEventListener("visibilitychange", schedule);
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
}

function originOf(src: string): string | undefined {
  try {
    const origin = new URL(src).origin;
    return origin === "null" ? undefined : origin;
  } catch {
    return undefined;
  }
}
