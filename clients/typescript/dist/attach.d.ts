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
/** Whether `data` is a format-v1 preview message. */
export declare function isPreviewMessage(data: unknown): data is PreviewMessage;
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
    provision(appId: string, options?: {
        wait?: boolean;
    }): Promise<{
        url: string | null;
    }>;
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
export declare function attachPreview(frame: FrameLike, options: AttachOptions): () => void;
