/**
 * The history store: where a conversation's messages become durable. Rooms see only this interface;
 * server/ decides the implementation (memory-history-store.ts or server/history/mongo-history-store.ts).
 * Every implementation passes test/contract/history-store.contract.ts.
 */

import type { Message as WireMessage } from "../schema/chat.ts";

/**
 * A message as stored: the wire's `Message`, plus `shadow` when its sender was shadow-muted (every
 * reader but the sender sees it as a tombstone: `viewFor` in moderation.ts). `shadow` never goes on
 * the wire.
 */
export type Message = WireMessage & { shadow?: true };

/** A message kept as its JSON (`JSON.stringify`), read back: a copy. */
export function parseMessage(json: string): Message {
  return JSON.parse(json) as Message;
}

/** A page of stored messages in ascending `seq` order. */
export type MessagePage = { messages: Message[]; hasMore: boolean };

/**
 * Why an append stopped early.
 * - `duplicate-client-msg`: that sender already stored that clientMsgId in that conversation.
 * - `seq-taken`: that (conversationId, seq) is stored already: another writer owns the conversation.
 */
export type AppendConflict = { index: number; kind: "duplicate-client-msg" | "seq-taken" };

/**
 * The outcome of appendMessages: the first `stored` messages are durable, in order; if `conflict`
 * is set, the message at `conflict.index` (= stored) was refused and nothing after it was written.
 */
export type AppendOutcome = { stored: number; conflict?: AppendConflict };

/** Durable, ordered history of every conversation. */
export interface HistoryStore {
  /**
   * Store messages in order, stopping at the first one whose (conversationId, seq) or
   * (conversationId, senderId, clientMsgId) is already stored. Throws when the store cannot be
   * reached; then any prefix may or may not be stored, and the caller must reconcile.
   */
  appendMessages(messages: readonly Message[]): Promise<AppendOutcome>;

  /** The message a sender stored under a clientMsgId, if any. */
  findByClientMsgId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | undefined>;

  /** The highest stored seq of a conversation, 0 when it has none. */
  lastSeq(conversationId: string): Promise<number>;

  /** The newest `limit` messages below `beforeSeq` (all, when undefined), ascending. */
  listBefore(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage>;

  /** The oldest `limit` messages above `afterSeq`, ascending. */
  listAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage>;

  /** Move a user's read cursor forward to `seq`; never backwards. Returns the cursor after the call. */
  advanceReadCursor(conversationId: string, userId: string, seq: number): Promise<number>;

  /** A user's read cursor, 0 when never set. */
  readCursor(conversationId: string, userId: string): Promise<number>;

  /**
   * Record that a conversation exists and who its members are, so that `conversationsOf` finds it.
   * Idempotent. For a dm the members come from its id; for a group, use setMember.
   */
  recordConversation(conversationId: string, kind: "dm" | "group", members: readonly string[]): Promise<void>;

  /** Add (`member` true) or remove a user from a group. Idempotent. */
  setMember(groupId: string, userId: string, member: boolean): Promise<void>;

  /** The members of a group or dm as recorded, sorted; empty when nothing is recorded. */
  members(conversationId: string): Promise<string[]>;

  /** The recorded dm and group conversations a user is a member of, sorted by id, at most `limit`. */
  conversationsOf(userId: string, limit: number): Promise<string[]>;

  /**
   * Make the message at `seq` a tombstone (`deleted: true`, text ""), keeping its seq and sender.
   * Idempotent. False when no message is stored there.
   */
  tombstone(conversationId: string, seq: number): Promise<boolean>;

  /**
   * The conversation's history epoch: "1" until a restore to an earlier point changes it (then seqs
   * may be reused, and clients that kept another epoch reload).
   */
  epoch(conversationId: string): Promise<string>;

  /** Resolves while the store answers; rejects when it does not. Used by /readyz. */
  ping(): Promise<void>;

  /** Release connections. */
  close(): Promise<void>;
}
