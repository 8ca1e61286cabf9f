import { clientHash } from "./client-hash.ts";
import type { AppendOutcome, HistoryStore, Message, MessagePage } from "./history-store.ts";

/**
 * History in process memory, for development and unit tests. Behaves exactly as the durable store:
 * it refuses a second (conversationId, seq) and a second (conversationId, senderId, clientMsgId).
 * Lost on exit.
 *
 * It keeps every message for the life of the process, outside V8's heap: each conversation writes
 * its messages' JSON as UTF-8 into one growing buffer, with their seqs, offsets and lengths in typed
 * arrays, and finds a clientMsgId through a number (a hash of sender and id, checked against the
 * stored message). As heap objects, even one string a message, every stored message was copied by
 * young-generation collections, promoted, and marked by every major collection for the rest of the
 * process, so a node on embedded defaults collected more slowly the more it had stored; bytes in
 * a buffer cost the collector nothing per message. Reads parse what they return, which also makes
 * them copies.
 */
class Conversation {
  /** hash(senderId, clientMsgId) → the seq, or the seqs when two share a hash. */
  readonly byClientMsgId = new Map<number, number | number[]>();
  /** Stored seqs, ascending, in seqs[0..count). */
  seqs = new Float64Array(16);
  /** Where each message's JSON starts in `bytes`, and its length in bytes, at its seq's index. */
  starts = new Float64Array(16);
  lengths = new Uint32Array(16);
  count = 0;
  /** The JSON of every message, one after another (a rewritten message is written anew at the end). */
  bytes = Buffer.allocUnsafeSlow(1024);
  used = 0;

  /** The message at index `at`. */
  message(at: number): Message {
    return JSON.parse(this.bytes.toString("utf8", this.starts[at], this.starts[at]! + this.lengths[at]!)) as Message;
  }

  /** Store `message` at index `at`, moving the seqs above it up by one. */
  insert(at: number, message: Message): void {
    if (this.count === this.seqs.length) {
      this.seqs = grown(this.seqs, new Float64Array(this.count * 2));
      this.starts = grown(this.starts, new Float64Array(this.count * 2));
      this.lengths = grown(this.lengths, new Uint32Array(this.count * 2));
    }
    this.seqs.copyWithin(at + 1, at, this.count);
    this.starts.copyWithin(at + 1, at, this.count);
    this.lengths.copyWithin(at + 1, at, this.count);
    this.count++;
    this.seqs[at] = message.seq;
    this.write(at, message);
  }

  /** Write `message` as the entry at index `at`. */
  write(at: number, message: Message): void {
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json);
    if (this.used + length > this.bytes.length) {
      const bytes = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + length));
      this.bytes.copy(bytes, 0, 0, this.used);
      this.bytes = bytes;
    }
    this.bytes.write(json, this.used, "utf8");
    this.starts[at] = this.used;
    this.lengths[at] = length;
    this.used += length;
  }
}

function grown<T extends Float64Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

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
        conversation = new Conversation();
        this.#conversations.set(message.conversationId, conversation);
      }
      const at = firstIndexAbove(conversation, message.seq - 1);
      if (at < conversation.count && conversation.seqs[at] === message.seq) return { stored: index, conflict: { index, kind: "seq-taken" } };
      const hash = clientHash(message.senderId, message.clientMsgId);
      if (findSent(conversation, hash, message.senderId, message.clientMsgId) !== undefined) return { stored: index, conflict: { index, kind: "duplicate-client-msg" } };
      conversation.insert(at, message);
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
    const conversation = this.#conversations.get(conversationId);
    return conversation === undefined || conversation.count === 0 ? 0 : conversation.seqs[conversation.count - 1]!;
  }

  async listBefore(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage> {
    this.#check();
    const conversation = this.#conversations.get(conversationId) ?? EMPTY;
    const end = beforeSeq === undefined ? conversation.count : firstIndexAbove(conversation, beforeSeq - 1);
    const start = Math.max(0, end - limit);
    return { messages: messagesBetween(conversation, start, end), hasMore: start > 0 };
  }

  async listAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    this.#check();
    const conversation = this.#conversations.get(conversationId) ?? EMPTY;
    const start = firstIndexAbove(conversation, afterSeq);
    return { messages: messagesBetween(conversation, start, Math.min(start + limit, conversation.count)), hasMore: start + limit < conversation.count };
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
    const at = indexOfSeq(conversation, seq);
    if (at < 0) return false;
    const found = conversation.message(at);
    found.text = "";
    found.deleted = true;
    delete found.filtered;
    conversation.write(at, found);
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

const EMPTY = new Conversation();

/** The messages at indexes start..end-1. */
function messagesBetween(conversation: Conversation, start: number, end: number): Message[] {
  const messages: Message[] = [];
  for (let at = start; at < end; at++) messages.push(conversation.message(at));
  return messages;
}

/** The message `senderId` stored under `clientMsgId`, among those whose hash is `hash`. */
function findSent(conversation: Conversation, hash: number, senderId: string, clientMsgId: string): Message | undefined {
  const known = conversation.byClientMsgId.get(hash);
  if (known === undefined) return undefined;
  for (const seq of seqsOf(known)) {
    const message = conversation.message(indexOfSeq(conversation, seq));
    if (message.senderId === senderId && message.clientMsgId === clientMsgId) return message;
  }
  return undefined;
}

function seqsOf(known: number | number[]): number[] {
  return typeof known === "number" ? [known] : known;
}

/** The index of `seq` in the conversation, -1 when it is not stored. */
function indexOfSeq(conversation: Conversation, seq: number): number {
  const at = firstIndexAbove(conversation, seq) - 1;
  return at >= 0 && conversation.seqs[at] === seq ? at : -1;
}

/** Index of the first seq above `seq` (binary search; seqs ascend). */
function firstIndexAbove(conversation: Conversation, seq: number): number {
  const seqs = conversation.seqs;
  let low = 0;
  let high = conversation.count;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (seqs[mid]! <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}
