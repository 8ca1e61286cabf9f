import { clientHash } from "./client-hash.ts";
import { type AppendOutcome, type HistoryStore, type Message, type MessagePage, parseMessage } from "./history-store.ts";

/**
 * History in process memory, for development and unit tests. Behaves exactly as the durable store:
 * it refuses a second (conversationId, seq) and a second (conversationId, senderId, clientMsgId).
 * Lost on exit.
 *
 * It keeps every message for the life of the process, so it holds each one as a single JSON string
 * (`JSON.stringify` makes a flat copy) beside a list of seqs, and finds a clientMsgId through a
 * number: a hash of sender and id, checked against the stored message. A stored message is then one
 * object to the garbage collector where a copied message object with its strings was four or five
 * (the text and clientMsgId a client sent are slices of its whole frame, which a slice keeps alive),
 * so a node on embedded defaults does not slow its major collections with every message it has
 * stored. Reads parse what they return, which also makes them copies.
 */
type Conversation = {
  /** Stored seqs, ascending. */
  seqs: number[];
  /** Each message as JSON, at its seq's index. */
  entries: string[];
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
        conversation = { seqs: [], entries: [], byClientMsgId: new Map() };
        this.#conversations.set(message.conversationId, conversation);
      }
      const at = firstIndexAbove(conversation.seqs, message.seq - 1);
      if (conversation.seqs[at] === message.seq) return { stored: index, conflict: { index, kind: "seq-taken" } };
      const hash = clientHash(message.senderId, message.clientMsgId);
      if (findSent(conversation, hash, message.senderId, message.clientMsgId) !== undefined) return { stored: index, conflict: { index, kind: "duplicate-client-msg" } };
      // Appending at the end is every write's case; splice would also make an array of nothing removed.
      if (at === conversation.seqs.length) {
        conversation.seqs.push(message.seq);
        conversation.entries.push(JSON.stringify(message));
      } else {
        conversation.seqs.splice(at, 0, message.seq);
        conversation.entries.splice(at, 0, JSON.stringify(message));
      }
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
    return this.#conversations.get(conversationId)?.seqs.at(-1) ?? 0;
  }

  async listBefore(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage> {
    this.#check();
    const { seqs, entries } = this.#conversations.get(conversationId) ?? EMPTY;
    const end = beforeSeq === undefined ? seqs.length : firstIndexAbove(seqs, beforeSeq - 1);
    const start = Math.max(0, end - limit);
    return { messages: entries.slice(start, end).map(parseMessage), hasMore: start > 0 };
  }

  async listAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    this.#check();
    const { seqs, entries } = this.#conversations.get(conversationId) ?? EMPTY;
    const start = firstIndexAbove(seqs, afterSeq);
    return { messages: entries.slice(start, start + limit).map(parseMessage), hasMore: start + limit < seqs.length };
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
    const found = parseMessage(conversation.entries[at]!);
    found.text = "";
    found.deleted = true;
    delete found.filtered;
    conversation.entries[at] = JSON.stringify(found);
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

const EMPTY: Conversation = { seqs: [], entries: [], byClientMsgId: new Map() };

/** The message `senderId` stored under `clientMsgId`, among those whose hash is `hash`. */
function findSent(conversation: Conversation, hash: number, senderId: string, clientMsgId: string): Message | undefined {
  const known = conversation.byClientMsgId.get(hash);
  if (known === undefined) return undefined;
  for (const seq of seqsOf(known)) {
    const message = parseMessage(conversation.entries[indexOfSeq(conversation, seq)]!);
    if (message.senderId === senderId && message.clientMsgId === clientMsgId) return message;
  }
  return undefined;
}

function seqsOf(known: number | number[]): number[] {
  return typeof known === "number" ? [known] : known;
}

/** The index of `seq` in the conversation, -1 when it is not stored. */
function indexOfSeq(conversation: Conversation, seq: number): number {
  const at = firstIndexAbove(conversation.seqs, seq) - 1;
  return conversation.seqs[at] === seq ? at : -1;
}

/** Index of the first seq above `seq` (binary search; seqs ascend). */
function firstIndexAbove(seqs: readonly number[], seq: number): number {
  let low = 0;
  let high = seqs.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (seqs[mid]! <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}
