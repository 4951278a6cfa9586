/**
 * `@live-preview/client`: the live preview provisioner's API for editors,
 * in browsers and Node 20+, with no runtime dependency.
 */
export { createClient } from "./client.js";
export { ApiError } from "./errors.js";
export { attachPreview, isPreviewMessage } from "./attach.js";
export { EventStreamParser } from "./sse.js";
