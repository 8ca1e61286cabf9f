import type { AppendOutcome, HistoryStore, Message, MessagePage } from "./history-store.ts";

/**
 * History in process memory, for development and unit tests. Behaves exactly as the durable store:
 * it refuses a second (conversationId, seq) and a second (conversationId, senderId, clientMsgId).
 * Lost on exit.
 */
export class MemoryHistoryStore implements HistoryStore {
  /** Per conversation, messages in ascending seq order. */
  readonly #bySeq = new Map<string, Message[]>();
  /**
   * Per conversation, per sender, by clientMsgId. Nested rather than one map under a joined key: the
   * maps reuse the strings each message already holds, where a key would be one more string kept
   * for every message ever stored (a third of what the store holds per message).
   */
  readonly #byClientMsgId = new Map<string, Map<string, Map<string, Message>>>();
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
      const conversation = this.#bySeq.get(message.conversationId) ?? [];
      const at = firstIndexAbove(conversation, message.seq - 1);
      if (conversation[at]?.seq === message.seq) return { stored: index, conflict: { index, kind: "seq-taken" } };
      const senders = this.#byClientMsgId.get(message.conversationId) ?? new Map<string, Map<string, Message>>();
      const sent = senders.get(message.senderId) ?? new Map<string, Message>();
      if (sent.has(message.clientMsgId)) return { stored: index, conflict: { index, kind: "duplicate-client-msg" } };
      const copy = { ...message };
      conversation.splice(at, 0, copy);
      this.#bySeq.set(message.conversationId, conversation);
      sent.set(message.clientMsgId, copy);
      senders.set(message.senderId, sent);
      this.#byClientMsgId.set(message.conversationId, senders);
    }
    return { stored: messages.length };
  }

  async findByClientMsgId(conversationId: string, senderId: string, clientMsgId: string): Promise<Message | undefined> {
    this.#check();
    const found = this.#byClientMsgId.get(conversationId)?.get(senderId)?.get(clientMsgId);
    return found && copyOf(found);
  }

  async lastSeq(conversationId: string): Promise<number> {
    this.#check();
    return this.#bySeq.get(conversationId)?.at(-1)?.seq ?? 0;
  }

  async listBefore(conversationId: string, beforeSeq: number | undefined, limit: number): Promise<MessagePage> {
    this.#check();
    const all = this.#bySeq.get(conversationId) ?? [];
    const end = beforeSeq === undefined ? all.length : firstIndexAbove(all, beforeSeq - 1);
    const start = Math.max(0, end - limit);
    return { messages: all.slice(start, end).map(copyOf), hasMore: start > 0 };
  }

  async listAfter(conversationId: string, afterSeq: number, limit: number): Promise<MessagePage> {
    this.#check();
    const all = this.#bySeq.get(conversationId) ?? [];
    const start = firstIndexAbove(all, afterSeq);
    return { messages: all.slice(start, start + limit).map(copyOf), hasMore: start + limit < all.length };
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
    const all = this.#bySeq.get(conversationId) ?? [];
    const found = all[firstIndexAbove(all, seq) - 1];
    if (found?.seq !== seq) return false;
    found.text = "";
    found.deleted = true;
    delete found.filtered;
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

function copyOf(message: Message): Message {
  return { ...message };
}

/** Index of the first message whose seq is above `seq` (binary search; messages ascend by seq). */
function firstIndexAbove(messages: readonly Message[], seq: number): number {
  let low = 0;
  let high = messages.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (messages[mid]!.seq <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}
