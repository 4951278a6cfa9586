/**
 * Every refusal of the provisioner is `{"error":{"code","message"}}` with a
 * fitting status; the client turns it into one error class, so callers
 * branch on a stable `code` and show `message`, which says what to change.
 */
export declare class ApiError extends Error {
    name: string;
    /** The HTTP status (0 when no answer came at all). */
    readonly status: number;
    /** Stable and machine-readable: `path_invalid`, `file_too_large`, ... */
    readonly code: string;
    /** Seconds to wait before retrying, from `Retry-After` (429 and 503). */
    readonly retryAfter: number | undefined;
    constructor(status: number, code: string, message: string, retryAfter?: number);
}
/** Reads a non-2xx answer as an `ApiError`; a body of another shape keeps its status. */
export declare function errorFrom(response: Response): Promise<ApiError>;
/** `Retry-After` in seconds; an HTTP date is turned into the seconds until it. */
export declare function parseRetryAfter(value: string | null, now?: number): number | undefined;
