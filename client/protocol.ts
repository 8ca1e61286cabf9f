/**
 * The wire shapes of protocol v1 (../shared/protocol-v1.md) as the client sees them. Kept here, not
 * imported from rooms/, so the kit bundles for browsers without pulling in server code.
 */

/** A chat message as every node delivers it. */
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
};

/** The reply to `send`: the message is durable. */
export type SendAck = { seq: number; sentAt: string; duplicate: boolean };

/** A page of `history` or `sync`. */
export type MessagePage = { messages: Message[]; hasMore: boolean };

/** Every code a request or a join can be refused with. */
export type RefusalCode = "INVALID" | "TOO_LONG" | "RATE_LIMITED" | "FORBIDDEN" | "UNAUTHENTICATED" | "UNAVAILABLE" | "NOT_FOUND";

/** What a refused request carries as `error.reason`. */
export type Refusal = { code: RefusalCode; message: string; retryAfterMs?: number };

/** Server-to-client messages of room `chat`. */
export type ChatServerMessages = {
  message: Message;
  typing: { userId: string; name: string };
  read: { userId: string; seq: number };
  migrate: { reason: string };
  error: { code: string; message: string };
};

/** Reply to the inbox `unread` request. */
export type UnreadReply = { conversations: Array<{ conversationId: string; lastSeq: number; lastReadSeq: number }> };

/** The largest `sync` page the server serves. */
export const SYNC_PAGE_LIMIT = 500;

const REFUSAL_CODES: ReadonlySet<string> = new Set(["INVALID", "TOO_LONG", "RATE_LIMITED", "FORBIDDEN", "UNAUTHENTICATED", "UNAVAILABLE", "NOT_FOUND"]);

/** True when `value` looks like a protocol v1 refusal. */
export function isRefusal(value: unknown): value is Refusal {
  return typeof value === "object" && value !== null && REFUSAL_CODES.has(String((value as { code?: unknown }).code));
}

/** True when `value` has the fields of a Message (the kit trusts the server, but not blindly). */
export function isMessage(value: unknown): value is Message {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m.conversationId === "string" && Number.isSafeInteger(m.seq) && typeof m.text === "string" && typeof m.clientMsgId === "string";
}
