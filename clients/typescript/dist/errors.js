/**
 * Every refusal of the provisioner is `{"error":{"code","message"}}` with a
 * fitting status; the client turns it into one error class, so callers
 * branch on a stable `code` and show `message`, which says what to change.
 */
export class ApiError extends Error {
    name = "ApiError";
    /** The HTTP status (0 when no answer came at all). */
    status;
    /** Stable and machine-readable: `path_invalid`, `file_too_large`, ... */
    code;
    /** Seconds to wait before retrying, from `Retry-After` (429 and 503). */
    retryAfter;
    constructor(status, code, message, retryAfter) {
        super(message);
        this.status = status;
        this.code = code;
        this.retryAfter = retryAfter;
    }
}
/** Reads a non-2xx answer as an `ApiError`; a body of another shape keeps its status. */
export async function errorFrom(response) {
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    const text = await response.text().catch(() => "");
    const detail = errorDetail(text);
    if (detail) {
        return new ApiError(response.status, detail.code, detail.message, retryAfter);
    }
    const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    return new ApiError(response.status, `http_${response.status}`, `the server answered ${response.status} without an error body${excerpt ? `: ${excerpt}` : ""}`, retryAfter);
}
function errorDetail(text) {
    try {
        const body = JSON.parse(text);
        if (typeof body !== "object" || body === null || !("error" in body))
            return undefined;
        const error = body.error;
        if (typeof error !== "object" || error === null)
            return undefined;
        const { code, message } = error;
        if (typeof code === "string" && typeof message === "string")
            return { code, message };
    }
    catch {
        // Not JSON: the caller says so.
    }
    return undefined;
}
/** `Retry-After` in seconds; an HTTP date is turned into the seconds until it. */
export function parseRetryAfter(value, now = Date.now()) {
    if (value === null || value.trim() === "")
        return undefined;
    const trimmed = value.trim();
    if (/^\d+$/.test(trimmed))
        return Number(trimmed);
    const date = Date.parse(trimmed);
    if (Number.isNaN(date))
        return undefined;
    return Math.max(0, Math.ceil((date - now) / 1000));
}
