/**
 * Every refusal code of the protocol, with the HTTP status a join or an HTTP call carries it under
 * and what a client does next. A request's refusal rejects with `error.reason` = `Refusal`; a
 * refused join fails with a matchmaking error whose message starts with the code.
 */

/** What a client does after a refusal. */
export type NextStep =
  /** Fix the input; sending the same again fails the same way. */
  | "fix"
  /** Wait `retryAfterMs` (when given), then send the same again. */
  | "wait"
  /** Get a new token, then join again. */
  | "sign_in"
  /** Send the same again later, with the same clientMsgId (the outcome is not stored). */
  | "retry"
  /** Leave something first (another conversation or connection); retrying as is fails again. */
  | "leave_first"
  /** Give up: not allowed; telling the user is all that is left. */
  | "give_up";

/** One refusal code, and the protocol version that added it. */
export type CodeSpec = { status: number; next: NextStep; meaning: string; since: "1" | "1.1" };

/** Every code a request, a join or an HTTP call can be refused with. */
export const Codes = {
  INVALID: { status: 400, next: "fix", meaning: "the input is malformed or breaks a rule", since: "1" },
  TOO_LONG: { status: 400, next: "fix", meaning: "the text is over the length limit: shorten it", since: "1" },
  RATE_LIMITED: { status: 429, next: "wait", meaning: "too many requests, joins or sends: wait retryAfterMs", since: "1" },
  FORBIDDEN: { status: 403, next: "give_up", meaning: "not allowed for this user (not a member, muted, banned, blocked)", since: "1" },
  UNAUTHENTICATED: { status: 401, next: "sign_in", meaning: "no valid identity: get a new token", since: "1" },
  UNAVAILABLE: { status: 503, next: "retry", meaning: "the store or the node cannot take it now: resend the same clientMsgId later", since: "1" },
  NOT_FOUND: { status: 404, next: "fix", meaning: "no such resource (HTTP only)", since: "1" },
  LIMIT_EXCEEDED: { status: 429, next: "leave_first", meaning: "a bound on what one user may hold (connections, conversations) is reached", since: "1.1" },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof Codes;

/** HTTP status of each code (joins carry it as the matchmaking error's code; the HTTP API answers with it). */
export const httpStatusOf = Object.fromEntries(Object.entries(Codes).map(([code, spec]) => [code, spec.status])) as Record<ErrorCode, number>;

/** What a refused request carries as `error.reason`. */
export type Refusal = { code: ErrorCode; message: string; retryAfterMs?: number };

/** Build a refusal; `retryAfterMs` only where the code has one (rounded up, at least 1). */
export function refusal(code: ErrorCode, message: string, retryAfterMs?: number): Refusal {
  return retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs: Math.max(1, Math.ceil(retryAfterMs)) };
}

/** True when `value` looks like a refusal of this protocol. */
export function isRefusal(value: unknown): value is Refusal {
  return typeof value === "object" && value !== null && Object.hasOwn(Codes, String((value as { code?: unknown }).code));
}

/** The code a refused join's message starts with ("FORBIDDEN: not a member"), if any. */
export function codeOfJoinError(message: string): ErrorCode | undefined {
  const code = /^([A-Z_]+)\b/.exec(message)?.[1];
  return code !== undefined && Object.hasOwn(Codes, code) ? (code as ErrorCode) : undefined;
}

/** A refusal thrown through layers that only know exceptions (onAuth, HTTP handlers). */
export class RefusalError extends Error {
  override name = "RefusalError";
  readonly refusal: Refusal;
  constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
    super(`${code}: ${message}`);
    this.refusal = refusal(code, message, retryAfterMs);
  }
}
