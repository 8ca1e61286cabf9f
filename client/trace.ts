/**
 * Trace events: one plain JSON object per step a chaos harness needs to rebuild a Jepsen-style
 * history (invoke, ok, fail, info). `t` is wall-clock ms (Date.now()).
 */

/** Every event `onTrace` receives, discriminated on `type`. */
export type TraceEvent =
  /** The app called send: the operation is invoked. */
  | { type: "send"; conversationId: string; clientMsgId: string; t: number }
  /** The server acknowledged the send: it is durable with this seq. */
  | { type: "ack"; conversationId: string; clientMsgId: string; seq: number; duplicate: boolean; attempts: number; t: number }
  /** One attempt ended without an answer that settles it (timeout, closed socket, UNAVAILABLE): it may or may not be stored. */
  | { type: "unknown"; conversationId: string; clientMsgId: string; reason: string; attempt: number; t: number }
  /** The send failed for good; `maybeStored` says whether it might still appear. */
  | { type: "fail"; conversationId: string; clientMsgId: string; code: string; maybeStored: boolean; t: number }
  /** A message was released to the app (exactly once, in seq order). */
  | { type: "receive"; conversationId: string; seq: number; clientMsgId: string; senderId: string; via: "live" | "sync"; t: number }
  /** A room was joined again after a migrate, a drop or a dead node, and caught up. */
  | { type: "rejoin"; room: string; conversationId?: string; endpoint: string; reason: string; attempts: number; lastSeq?: number; joinMs?: number; catchUpMs?: number; viaSeat?: boolean; t: number }
  /** One join attempt failed (it is retried with backoff unless the error is final). */
  | { type: "join-failed"; room: string; conversationId?: string; endpoint: string; error: string; attempt: number; viaSeat?: boolean; t: number }
  /** A connection was given up (the reason names why). */
  | { type: "lost"; room: string; conversationId?: string; endpoint: string; reason: string; t: number };

/** A sink for trace events; it must not throw (errors are swallowed). */
export type TraceSink = (event: TraceEvent) => void;

/** Call the sink, never letting it break the kit. */
export function emitTrace(sink: TraceSink | undefined, event: TraceEvent): void {
  if (!sink) return;
  try {
    sink(event);
  } catch {
    // A broken trace sink must not change what the client does.
  }
}
