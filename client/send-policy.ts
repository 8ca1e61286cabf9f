/**
 * What to do after a send attempt fails: the protocol v1 refusal codes say retry, wait or give up;
 * a timeout or a closed socket leaves the outcome unknown, so the same clientMsgId goes out again.
 */
import { backoffDelayMs, type BackoffOptions } from "./backoff.ts";
import { ParleyError } from "./errors.ts";
import type { Refusal } from "./protocol.ts";

/** Why one attempt got no ack. */
export type AttemptFailure =
  | { kind: "refused"; refusal: Refusal }
  /** No reply within the request timeout: the node may be dead. */
  | { kind: "timeout" }
  /** The socket closed (or was never open) before the reply. */
  | { kind: "closed" }
  /** The server failed the request without a protocol refusal. */
  | { kind: "fault"; message: string };

/** The decision for the next step of one outbox entry. */
export type SendDecision =
  | {
      action: "retry";
      /** Wait this long before the next attempt (on the same or a new connection). */
      delayMs: number;
      /** The failed attempt may have been stored. */
      outcomeUnknown: boolean;
      /** Check that the node still answers (a timeout) before retrying on it. */
      suspectNode: boolean;
      /** Wait for a new connection rather than retry on this one. */
      needsRejoin: boolean;
    }
  | { action: "give-up"; error: ParleyError };

/**
 * Decide after failed attempt number `attempt` (1-based). `maybeStored` says whether an earlier
 * attempt's outcome was unknown, which a final error must report.
 */
export function decideAfterFailure(failure: AttemptFailure, attempt: number, maybeStored: boolean, backoff: BackoffOptions, random: () => number = Math.random): SendDecision {
  switch (failure.kind) {
    case "timeout":
      return { action: "retry", delayMs: 0, outcomeUnknown: true, suspectNode: true, needsRejoin: false };
    case "closed":
      return { action: "retry", delayMs: 0, outcomeUnknown: true, suspectNode: false, needsRejoin: true };
    case "fault":
      return { action: "retry", delayMs: backoffDelayMs(attempt, backoff, random), outcomeUnknown: true, suspectNode: false, needsRejoin: false };
    case "refused":
      break;
  }
  const { code, message, retryAfterMs } = failure.refusal;
  switch (code) {
    case "RATE_LIMITED": {
      // The server says when a token is free; waiting less only earns another refusal.
      const wait = retryAfterMs !== undefined && retryAfterMs > 0 ? retryAfterMs : backoffDelayMs(attempt, backoff, random);
      return { action: "retry", delayMs: Math.ceil(wait * (1 + 0.1 * random())), outcomeUnknown: false, suspectNode: false, needsRejoin: false };
    }
    case "UNAVAILABLE":
      // The store may have taken the write before timing out: resend the same id later.
      return { action: "retry", delayMs: backoffDelayMs(attempt, backoff, random), outcomeUnknown: true, suspectNode: false, needsRejoin: false };
    case "INVALID":
    case "TOO_LONG":
    case "FORBIDDEN":
    case "UNAUTHENTICATED":
    case "LIMIT_EXCEEDED":
      return { action: "give-up", error: new ParleyError(code, message, { maybeStored }) };
    case "NOT_FOUND":
      return { action: "give-up", error: new ParleyError("INVALID", message, { maybeStored }) };
  }
}
