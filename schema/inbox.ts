/**
 * Room `inbox`, one per user across the cluster: its request and its server messages.
 */
import { z } from "zod";
import type { Message, Since } from "./chat.ts";

/** How many conversations `unread` reports at most. */
export const UNREAD_LIMIT = 200;

/** Requests of room `inbox`, by type. */
export const inboxRequests = {
  unread: { since: "1", schema: z.object({}) },
} as const satisfies Record<string, { since: Since; schema: z.ZodType }>;

export type InboxRequestType = keyof typeof inboxRequests;

/** Reply to `unread`. */
export type UnreadReply = { conversations: Array<{ conversationId: string; lastSeq: number; lastReadSeq: number }> };

/** Server-to-client messages of room `inbox`. */
export type InboxServerMessages = {
  /** A message in one of the user's dm or group conversations, sent by someone else. */
  notify: Message;
  migrate: { reason: string; retryAfterMs?: number };
  error: { code: string; message: string };
};

export const inboxServerMessages = {
  notify: { since: "1" },
  migrate: { since: "1" },
  error: { since: "1" },
} as const satisfies { [T in keyof InboxServerMessages]: { since: Since } };
