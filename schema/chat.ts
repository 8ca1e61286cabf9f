/**
 * Room `chat`, one conversation: every client request with its zod schema and reply type, every
 * client message, every server message, and the limits. Schemas are checked inside the room's
 * handlers (not with Colyseus `validate()`, which answers a request with a fault instead of a
 * refusal carrying `{ code, message }`).
 */
import { z } from "zod";

/** Protocol versions: what a v1 client may ignore is marked "1.1". */
export type Since = "1" | "1.1";

/** 1..64 of A-Za-z0-9_-.: ; unique per sender and conversation, forever. */
export const CLIENT_MSG_ID = /^[A-Za-z0-9_\-.:]{1,64}$/;

/** The limits a client should know. */
export const Limits = {
  /** Longest text after NFC and trim, in code points (a server may lower it with MAX_TEXT_CHARS). */
  maxTextChars: 2000,
  /** `history` page: default and most. */
  historyDefault: 50,
  historyMax: 100,
  /** `sync` page: default and most. */
  syncMax: 500,
  /** Longest `report` reason, in characters. */
  reportReasonMax: 500,
  /** Largest WebSocket frame; a larger one closes the connection (1009). */
  maxFrameBytes: 64 * 1024,
} as const;

/** A chat message as stored and delivered everywhere. */
export type Message = {
  conversationId: string;
  /** 1, 2, 3, ... per conversation, no gaps, never reused. */
  seq: number;
  senderId: string;
  senderName: string;
  text: string;
  /** ISO 8601, server clock. */
  sentAt: string;
  clientMsgId: string;
  /** 1.1: a tombstone; `text` is "" and the seq stays. */
  deleted?: true;
  /** 1.1: the content filter masked part of the text. */
  filtered?: true;
};

/** A page of messages in ascending seq order. */
export type MessagePage = { messages: Message[]; hasMore: boolean };

const clientMsgId = z.string().regex(CLIENT_MSG_ID, "clientMsgId must be 1..64 of A-Za-z0-9_-.:");
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Requests of room `chat` (`room.request(type, payload)`), by type. */
export const chatRequests = {
  // No length cap here: the room refuses long texts as TOO_LONG, and the transport bounds frames.
  send: { since: "1", schema: z.object({ clientMsgId, text: z.string() }) },
  history: { since: "1", schema: z.object({ beforeSeq: seq.min(1).optional(), limit: z.number().int().min(1).max(Limits.historyMax).optional() }) },
  sync: { since: "1", schema: z.object({ afterSeq: seq, limit: z.number().int().min(1).max(Limits.syncMax).optional() }) },
  read: { since: "1", schema: z.object({ seq }) },
  delete: { since: "1.1", schema: z.object({ seq: seq.min(1) }) },
  report: { since: "1.1", schema: z.object({ seq: seq.min(1), reason: z.string().min(1).max(Limits.reportReasonMax) }) },
} as const satisfies Record<string, { since: Since; schema: z.ZodType }>;

export type ChatRequestType = keyof typeof chatRequests;
export type ChatRequest<T extends ChatRequestType> = z.infer<(typeof chatRequests)[T]["schema"]>;

/** Reply to `send`: the message is durable. */
export type SendAck = { seq: number; sentAt: string; duplicate: boolean };

/** The reply of each request. */
export type ChatReplies = {
  send: SendAck;
  history: MessagePage;
  sync: MessagePage;
  read: Record<string, never>;
  delete: Record<string, never>;
  report: { reportId: string };
};

/** Fire-and-forget client messages of room `chat` (`room.send(type)`): no reply. */
export const chatClientMessages = {
  typing: { since: "1" },
} as const satisfies Record<string, { since: Since }>;

/**
 * A seat held for one client in the room that took its conversation over (protocol 1.2, `migrate`):
 * a Colyseus seat reservation, consumed with the SDK's `consumeSeatReservation(seat)` within the
 * room's seat reservation time (15 s) instead of `joinOrCreate`, so the rejoin skips matchmaking.
 * Held for that client's authorisation only; if it fails, join with `joinOrCreate` as before.
 */
export type HandOffSeat = { name: string; sessionId: string; roomId: string; processId?: string; publicAddress?: string };

/** True when `value` looks like a {@link HandOffSeat} (a client checks what it is told to consume). */
export function isHandOffSeat(value: unknown): value is HandOffSeat {
  if (typeof value !== "object" || value === null) return false;
  const seat = value as Record<string, unknown>;
  const optional = (field: unknown) => field === undefined || (typeof field === "string" && field.length <= 256);
  return (
    typeof seat.name === "string" &&
    typeof seat.sessionId === "string" &&
    seat.sessionId.length > 0 &&
    seat.sessionId.length <= 64 &&
    typeof seat.roomId === "string" &&
    seat.roomId.length > 0 &&
    seat.roomId.length <= 64 &&
    optional(seat.processId) &&
    optional(seat.publicAddress)
  );
}

/** Server-to-client messages of room `chat` (`room.onMessage(type)`), by type. */
export type ChatServerMessages = {
  message: Message;
  typing: { userId: string; name: string };
  read: { userId: string; seq: number };
  /** `seat` (1.2): a seat held for this client in the replacement room; see {@link HandOffSeat}. */
  migrate: { reason: string; retryAfterMs?: number; seat?: HandOffSeat };
  /**
   * A refused fire-and-forget message, a malformed frame, or a request sent as a plain message
   * (then `request` names it, with the `clientMsgId` of a send): there is no reply to reject.
   */
  error: { code: string; message: string; retryAfterMs?: number; request?: string; clientMsgId?: string };
  welcome: { conversationId: string; lastSeq: number; epoch: string };
  deleted: { conversationId: string; seq: number };
  removed: { conversationId: string; reason: "kicked" | "banned"; retryAfterMs?: number };
};

/** Every server message type of room `chat`, with its version: register all of them. */
export const chatServerMessages = {
  message: { since: "1" },
  typing: { since: "1" },
  read: { since: "1" },
  migrate: { since: "1" },
  error: { since: "1" },
  welcome: { since: "1.1" },
  deleted: { since: "1.1" },
  removed: { since: "1.1" },
} as const satisfies { [T in keyof ChatServerMessages]: { since: Since } };

/** Parse a payload for a request type; on failure return the first problem as text. */
export function parseChatRequest<T extends ChatRequestType>(type: T, payload: unknown): { ok: true; value: ChatRequest<T> } | { ok: false; message: string } {
  const result = chatRequests[type].schema.safeParse(payload ?? {});
  if (result.success) return { ok: true, value: result.data as ChatRequest<T> };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, message: `${type}: ${where}${issue?.message ?? "invalid payload"}` };
}

/** True when `value` has the fields of a Message (a client trusts the server, but not blindly). */
export function isMessage(value: unknown): value is Message {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.conversationId === "string" && Number.isSafeInteger(m.seq) && typeof m.text === "string" && typeof m.clientMsgId === "string";
}
