import { clientHash } from "./client-hash.ts";
import { MessageBuffer } from "./message-buffer.ts";
import type { AppendOutcome, HistoryStore, Message, MessagePage } from "./history-store.ts";

/**
 * History in process memory, for development and unit tests. Behaves exactly as the durable store:
 * it refuses a second (conversationId, seq) and a second (conversationId, senderId, clientMsgId).
 * Lost on exit.
 *
 * It keeps every message for the life of the process, outside V8's heap (`MessageBuffer`: each
 * conversation's messages as UTF-8 JSON in one buffer, with seqs, offsets and lengths in typed
 * arrays), and finds a clientMsgId through a number (a hash of sender and id, checked against the
 * stored message). As heap objects, even one string a message, every stored message was promoted
 * and then marked by every major collection for the rest of the process, so a node on embedded
 * defaults collected more slowly the more it had stored. Reads parse what they return, which also
 * makes them copies.
 */
type Conversation = {
  messages: MessageBuffer;
  /** hash(senderId, clientMsgId) → the seq, or the seqs when two share a hash. */
  byClientMsgId: Map<number, number | number[]>;
};

export class MemoryHistoryStore implements HistoryStore {
  readonly #conversations = new Map<string, Conversation>();
  readonly #cursors = new Map<string, number>();
  readonly #members = new Map<string, Set<string>>();
  #down = false;

  /** Simulate an outage (unit tests only): every call rejects until set back to false. */
  set down(value: boolean) {
    this.#down = value;
  }

  #check(): void {
    if (this.#down) throw new Error("memory history store is down");
  }

  async appendMessages(messages: readonly Message[]): Promise<AppendOutcome> {
    this.#check();
    for (let index = 0; index < messages.length; index++) {
      const message = messages[index]!;
      let conversation = this.#conversations.get(message.conversationId);
      if (conversation === undefined) {
        conversation = { messages: new MessageBuffer(), byClientMsgId: new Map() };
        this.#conversations.set(message.conversationId, conversation);
      }
      if (conversation.messages.indexOf(message.seq) >= 0) return { stored: index, conflict: { index, kind: "seq-taken" } };
      const hash = clientHash(message.senderId, message.clientMsgId);
      if (findSent(conversation, hash, message.senderId, message.clientMsgId) !== undefined) return { stored: index, conflict: { index, kind: "duplicate-client-msg" } };
      conversation.messages.insert(conversation.messages.indexAbove(message.seq), message);
      const known = conversation.byClientMsgId.get(hash);
      conversation.byClientMsgId.set(hash, known === undefined ? message.seq : [...seqsOf(known), message.seq]);
    }
    return { stored: messages.length };
  }

  async findByClientMsgId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | undefined> {
    this.#check();
    const conversation = this.#conversations.get(conversationId);
    return conversation && findSent(conversation, clientHash(senderId, clientMsgId), senderId, clientMsgId);
  }

  async lastSeq(conversationId: string): Promise<number> {
    this.#check();
    const messages = this.#conversations.get(conversationId)?.messages;
    return messages === undefined || messages.size === 0 ? 0 : messages.seqAt(messages.size - 1);
  }

  async listBefore(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage> {
    this.#check();
    const messages = this.#conversations.get(conversationId)?.messages ?? EMPTY;
    const end = beforeSeq === undefined ? messages.size : messages.indexAbove(beforeSeq - 1);
    const start = Math.max(0, end - limit);
    return { messages: messages.messagesBetween(start, end), hasMore: start > 0 };
  }

  async listAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    this.#check();
    const messages = this.#conversations.get(conversationId)?.messages ?? EMPTY;
    const start = messages.indexAbove(afterSeq);
    return { messages: messages.messagesBetween(start, Math.min(start + limit, messages.size)), hasMore: start + limit < messages.size };
  }

  async advanceReadCursor(conversationId: string, userId: string, seq: number): Promise<number> {
    this.#check();
    const key = `${conversationId}\u0000${userId}`;
    const next = Math.max(this.#cursors.get(key) ?? 0, seq);
    this.#cursors.set(key, next);
    return next;
  }

  async readCursor(conversationId: string, userId: string): Promise<number> {
    this.#check();
    return this.#cursors.get(`${conversationId}\u0000${userId}`) ?? 0;
  }

  async recordConversation(conversationId: string, _kind: "dm" | "group", members: readonly string[]): Promise<void> {
    this.#check();
    const recorded = this.#members.get(conversationId) ?? new Set<string>();
    for (const member of members) recorded.add(member);
    this.#members.set(conversationId, recorded);
  }

  async setMember(groupId: string, userId: string, member: boolean): Promise<void> {
    this.#check();
    const recorded = this.#members.get(groupId) ?? new Set<string>();
    if (member) recorded.add(userId);
    else recorded.delete(userId);
    this.#members.set(groupId, recorded);
  }

  async members(conversationId: string): Promise<string[]> {
    this.#check();
    return [...(this.#members.get(conversationId) ?? [])].sort();
  }

  async conversationsOf(userId: string, limit: number): Promise<string[]> {
    this.#check();
    const mine = [...this.#members].filter(([, members]) => members.has(userId)).map(([id]) => id);
    return mine.sort().slice(0, limit);
  }

  async tombstone(conversationId: string, seq: number): Promise<boolean> {
    this.#check();
    const conversation = this.#conversations.get(conversationId);
    if (conversation === undefined) return false;
    const at = conversation.messages.indexOf(seq);
    if (at < 0) return false;
    const found = conversation.messages.messageAt(at);
    found.text = "";
    found.deleted = true;
    delete found.filtered;
    conversation.messages.replace(at, found);
    return true;
  }

  async epoch(_conversationId: string): Promise<string> {
    this.#check();
    return "1";
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {}
}

const EMPTY = new MessageBuffer();

/** The message `senderId` stored under `clientMsgId`, among those whose hash is `hash`. */
function findSent(conversation: Conversation, hash: number, senderId: string, clientMsgId: string): Message | undefined {
  const known = conversation.byClientMsgId.get(hash);
  if (known === undefined) return undefined;
  for (const seq of seqsOf(known)) {
    const message = conversation.messages.messageAt(conversation.messages.indexOf(seq));
    if (message.senderId === senderId && message.clientMsgId === clientMsgId) return message;
  }
  return undefined;
}

function seqsOf(known: number | number[]): number[] {
  return typeof known === "number" ? [known] : known;
}
