/**
 * How a connection ends, and what a client does then: WebSocket close codes, and the numeric codes
 * of a failed matchmaking call (Colyseus's own, beside the HTTP statuses of `Codes`).
 */

/** What a client does when a connection closes or a matchmaking call fails. */
export type AfterClose =
  /** Join again with backoff and jitter (another endpoint is fine), then `sync` from the last seq. */
  | "rejoin"
  /** Do not rejoin by yourself: tell the user. */
  | "stop"
  /** Nothing: the client asked for it. */
  | "none";

export type CloseSpec = { code: number; then: AfterClose; meaning: string; since: "1" | "1.1" };

/** Close codes with a meaning of their own. Any other code is a fault or a hand-off: `rejoin`. */
export const CloseCodes = {
  /** The client left (`room.leave()`). */
  CONSENTED: { code: 4000, then: "none", meaning: "the client left", since: "1" },
  /** The join was refused after the socket opened (its error frame says why, with a code). */
  WITH_ERROR: { code: 4002, then: "rejoin", meaning: "closed on an error: a refused join (act on the code of the error frame before it) or too many frames a second", since: "1" },
  /** Removed by moderation or no longer allowed (removed from a group). */
  REMOVED: { code: 4403, then: "stop", meaning: "removed or not allowed: do not rejoin automatically", since: "1.1" },
  /** A frame over 64 KiB: the client broke a limit. */
  MESSAGE_TOO_BIG: { code: 1009, then: "rejoin", meaning: "a frame over the size limit; rejoin and send less", since: "1" },
} as const satisfies Record<string, CloseSpec>;

export type CloseCodeName = keyof typeof CloseCodes;

/** Numeric codes of a failed matchmaking call that are Colyseus's own (Parley's refusals use `Codes` statuses). */
export const MatchmakingErrorCodes = {
  /** No room type of that name. */
  MATCHMAKE_NO_HANDLER: { code: 520, then: "stop", meaning: "no such room type", since: "1" },
  /** `join` found no room for those options. */
  MATCHMAKE_INVALID_CRITERIA: { code: 521, then: "rejoin", meaning: "no room found: use joinOrCreate", since: "1" },
  /** `joinById` named a room that does not exist (or is moving). */
  MATCHMAKE_INVALID_ROOM_ID: { code: 522, then: "rejoin", meaning: "no such room: joinOrCreate by conversation instead", since: "1" },
  /** Anything else that failed during matchmaking (a node went away mid-join). */
  MATCHMAKE_UNHANDLED: { code: 523, then: "rejoin", meaning: "the join failed on the way: try again with backoff", since: "1" },
  /** A seat reservation expired before the client connected. */
  MATCHMAKE_EXPIRED: { code: 524, then: "rejoin", meaning: "the seat expired: join again", since: "1" },
} as const satisfies Record<string, CloseSpec>;

/** What to do after a close with `code`. */
export function afterClose(code: number): AfterClose {
  for (const spec of Object.values(CloseCodes)) if (spec.code === code) return spec.then;
  return "rejoin";
}
