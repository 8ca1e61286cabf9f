/**
 * Refusal codes of protocol v1. Each says what the caller should do next, so clients can act on the
 * code alone.
 */

/** Every code a request, a join or an HTTP call can be refused with. */
export const ErrorCodes = {
  /** The input is malformed or breaks a rule: fix it, do not resend as is. */
  INVALID: "INVALID",
  /** The text is over the limit: shorten it. */
  TOO_LONG: "TOO_LONG",
  /** Too many requests: retry after `retryAfterMs`. */
  RATE_LIMITED: "RATE_LIMITED",
  /** Not allowed for this user (not a member, muted or banned): give up. */
  FORBIDDEN: "FORBIDDEN",
  /** No valid identity: get a new token, then join again. */
  UNAUTHENTICATED: "UNAUTHENTICATED",
  /** The store cannot take it now: resend the same clientMsgId later. */
  UNAVAILABLE: "UNAVAILABLE",
  /** No such resource (HTTP only). */
  NOT_FOUND: "NOT_FOUND",
  /** A bound on what one user may hold is reached (connections, conversations): leave something first; retrying as is fails again. */
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** What a refused request carries as `error.reason`. */
export type Refusal = { code: ErrorCode; message: string; retryAfterMs?: number };

/** Build a refusal; `retryAfterMs` only where the code has one. */
export function refusal(code: ErrorCode, message: string, retryAfterMs?: number): Refusal {
  return retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) };
}

/** HTTP status for each code, used by joins (Colyseus needs an HTTP status) and by the HTTP API. */
export const httpStatusOf: Record<ErrorCode, number> = {
  INVALID: 400,
  TOO_LONG: 400,
  RATE_LIMITED: 429,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  UNAVAILABLE: 503,
  NOT_FOUND: 404,
  LIMIT_EXCEEDED: 429,
};

/** A refusal thrown through layers that only know exceptions (onAuth, HTTP handlers). */
export class RefusalError extends Error {
  override name = "RefusalError";
  readonly refusal: Refusal;
  constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
    super(`${code}: ${message}`);
    this.refusal = refusal(code, message, retryAfterMs);
  }
}
