/**
 * Typed errors of the client kit. The code tells the app what to do: fix the input, wait, sign in
 * again, or accept that the outcome is unknown.
 */

/** Every code a kit operation can fail with. */
export type ParleyErrorCode =
  /** The server refused the input (bad clientMsgId, empty text, ...): fix it, do not resend. */
  | "INVALID"
  /** The text is over the server's limit: shorten it. */
  | "TOO_LONG"
  /** Not allowed (not a member, muted, banned): give up. */
  | "FORBIDDEN"
  /** The token was refused at join: sign in again. */
  | "UNAUTHENTICATED"
  /** The user holds as many connections or conversations as a node allows: leave one, then join again. */
  | "LIMIT_EXCEEDED"
  /** Removed by moderation (kicked, banned) or no longer allowed (close 4403): the kit does not rejoin. */
  | "REMOVED"
  /** The outbox already holds `maxOutstanding` sends: wait for acks, then send again. */
  | "OUTBOX_FULL"
  /** `sendTimeoutMs` passed before an ack; see `maybeStored`. */
  | "TIMEOUT"
  /** The conversation or client was closed before an ack; see `maybeStored`. */
  | "CLOSED"
  /** No endpoint accepted a join within `maxJoinAttempts`. */
  | "UNREACHABLE";

/** An error of the client kit, with a code the app can switch on. */
export class ParleyError extends Error {
  override name = "ParleyError";
  readonly code: ParleyErrorCode;
  /**
   * For a send that failed without an ack: true when at least one attempt reached a socket, so the
   * message may be stored (it then appears in the conversation); false means it was never sent.
   */
  readonly maybeStored: boolean;
  constructor(code: ParleyErrorCode, message: string, options: { maybeStored?: boolean } = {}) {
    super(`${code}: ${message}`);
    this.code = code;
    this.maybeStored = options.maybeStored ?? false;
  }
}
