/**
 * The sequencer of one conversation: the part of the room actor that turns sends into durable,
 * gap-free, idempotent messages.
 *
 * - `seq` is assigned when a batch is written, never at accept time, and only one write is in flight
 *   at a time. So a write that stops early (a duplicate clientMsgId, an outage) leaves no gap: what
 *   was not stored is simply numbered again in the next write.
 * - A message is delivered (`onDurable`) and acknowledged only after the store said it is stored.
 * - A clientMsgId already stored or in flight gets the first reply with `duplicate: true`.
 * - `seq-taken` from the store means another writer owns the conversation: the log fences itself
 *   and tells the room (`onFenced`), which sends its clients `migrate`.
 */
import { refusal, type Refusal } from "../schema/codes.ts";
import type { SendAck as SendReply } from "../schema/chat.ts";
import { clientHash } from "./client-hash.ts";
import { type AppendOutcome, type HistoryStore, type Message, type MessagePage, parseMessage } from "./history-store.ts";
import { currentContext, startWriteSpan, withContext } from "./spans.ts";
import { StoreTimeoutError, withTimeout } from "./timeout.ts";
import type { Context } from "@opentelemetry/api";

/** What the room hands over for one send, after validation. */
export type Draft = {
  senderId: string;
  senderName: string;
  text: string;
  clientMsgId: string;
  /** The sender is shadow-muted: others will see the message as a tombstone. */
  shadow?: true;
  /** The content filter masked part of the text. */
  filtered?: true;
};

/** The outcome of one send: an acknowledgement or a refusal. */
export type SendOutcome = { ok: true; reply: SendReply } | { ok: false; refusal: Refusal };

/** Where durable writes go: the store itself, or a node-level group commit in front of it. */
export type AppendMessages = (messages: readonly Message[]) => Promise<AppendOutcome>;

export type ConversationLogOptions = {
  conversationId: string;
  store: Pick<HistoryStore, "lastSeq" | "listAfter" | "findByClientMsgId">;
  append: AppendMessages;
  /** Sends waiting for the store before new ones are refused UNAVAILABLE. */
  maxPending: number;
  /** Time a write may take before its sends are refused UNAVAILABLE. */
  storeTimeoutMs: number;
  /**
   * Replies answered from memory for a resend, while the tail still holds their message; older ones
   * are found in the store. @default 1000
   */
  recentRepliesCap?: number;
  /** Newest durable messages kept in memory to answer sync and history without the store. @default 500 */
  tailCap?: number;
  /** Most messages in one write. @default 500 */
  maxBatch?: number;
  /** Called with messages once they are durable, in seq order, before their senders are acknowledged. */
  onDurable: (messages: readonly Message[]) => void;
  /** Called once when another writer took a seq of this conversation. */
  onFenced: () => void;
  /** Called when a write fails or times out (for a log line and a metric). */
  onWriteFailed: (error: unknown) => void;
  now?: () => Date;
};

type Waiter = (outcome: SendOutcome) => void;
/**
 * A queued send; `hash` is `clientHash` of its sender and clientMsgId, made once in `submit`;
 * `origin` is its trace context while tracing is on (the write span links to it).
 */
type Pending = { draft: Draft; key: string; hash: number; waiters: Waiter[]; origin: Context | undefined };

const LOG_DOWN = refusal("UNAVAILABLE", "the history store cannot take messages now; resend the same clientMsgId later");

export class ConversationLog {
  readonly conversationId: string;
  #lastSeq = 0;
  #queue: Pending[] = [];
  /** Sends queued or in flight, by sender and clientMsgId. */
  readonly #inFlight = new Map<string, Pending>();
  /**
   * The seqs of recent replies by `clientHash` of sender and clientMsgId, oldest first (Map keeps
   * insertion order): numbers only, so that remembering a reply holds no object. A resend is
   * answered from the tail's message at that seq, once its sender and clientMsgId match.
   */
  readonly #recent = new Map<number, number>();
  #writing = false;
  #mustReconcile = false;
  #fenced = false;
  #closed = false;
  /**
   * The newest durable messages as JSON, contiguous in seq, the first (seq #tailFrom) at
   * #tail[#tailSkip]: the entries before it left the tail and are cut off in one go once there are a
   * quarter of tailCap of them (memory holds at most 1.25 tailCap), not one by one (a splice of the
   * whole tail for every message). One flat string per message, where the message object with its
   * strings was five objects (its text and clientMsgId slices of the sender's whole frame): every
   * message survives young-generation collections into the old generation until it leaves the tail,
   * and the fewer objects it is, the less each collection copies and marks. Reads parse, and so
   * return copies.
   */
  #tail: string[] = [];
  #tailSkip = 0;
  #tailFrom = 1;
  readonly #idle: Array<() => void> = [];
  readonly #options: ConversationLogOptions;
  readonly #maxBatch: number;
  readonly #recentCap: number;

  constructor(options: ConversationLogOptions) {
    this.conversationId = options.conversationId;
    this.#options = options;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#recentCap = options.recentRepliesCap ?? 1000;
  }

  /** Restore the last stored seq, so the conversation continues after any restart. */
  async start(handedOverLastSeq?: number): Promise<void> {
    this.#lastSeq = handedOverLastSeq ?? (await withTimeout(this.#options.store.lastSeq(this.conversationId), this.#options.storeTimeoutMs));
    this.#tailFrom = this.#lastSeq + 1;
  }

  /**
   * The last seq, when this log is sure of it (nothing to reconcile, not fenced): what a draining
   * room hands over. A wrong hand-over would still meet the seq fence.
   */
  get settledLastSeq(): number | undefined {
    return this.#mustReconcile || this.#fenced || this.#writing || this.#inFlight.size > 0 ? undefined : this.#lastSeq;
  }

  /**
   * The oldest `limit` messages above `afterSeq`, from memory, when memory holds all of them
   * (a rejoining client's sync, typically); undefined when the store must answer.
   */
  readAfter(afterSeq: number, limit: number): MessagePage | undefined {
    if (afterSeq + 1 < this.#tailFrom || afterSeq > this.#lastSeq) return undefined;
    const start = afterSeq + 1 - this.#tailFrom;
    return { messages: this.#tail.slice(this.#tailSkip + start, this.#tailSkip + start + limit).map(parseMessage), hasMore: start + limit < this.#tailLength };
  }

  /** The newest `limit` messages below `beforeSeq`, from memory, when memory holds all of them. */
  readBefore(beforeSeq: number | undefined, limit: number): MessagePage | undefined {
    const end = Math.min(beforeSeq ?? this.#lastSeq + 1, this.#lastSeq + 1) - this.#tailFrom;
    if (end < 0) return undefined;
    const start = end - limit;
    if (start < 0 && this.#tailFrom > 1) return undefined;
    return { messages: this.#tail.slice(this.#tailSkip + Math.max(0, start), this.#tailSkip + end).map(parseMessage), hasMore: start > 0 || (start === 0 && this.#tailFrom > 1) };
  }

  /**
   * The message at `seq` became a tombstone in the store: show it as one from memory too. Returns
   * the stored message it was (undefined when memory does not hold that seq).
   */
  tombstone(seq: number): Message | undefined {
    const index = this.#tailIndex(seq);
    if (index === undefined) return undefined;
    const message = parseMessage(this.#tail[index]!);
    const { filtered: _filtered, shadow: _shadow, ...kept } = message;
    this.#tail[index] = JSON.stringify({ ...kept, text: "", deleted: true });
    return message;
  }

  get #tailLength(): number {
    return this.#tail.length - this.#tailSkip;
  }

  /** The stored message at `seq` when memory holds it. */
  messageAt(seq: number): Message | undefined {
    const index = this.#tailIndex(seq);
    return index === undefined ? undefined : parseMessage(this.#tail[index]!);
  }

  /** Where the tail holds `seq`, when it does. */
  #tailIndex(seq: number): number | undefined {
    if (seq < this.#tailFrom || seq > this.#lastSeq) return undefined;
    return this.#tailSkip + seq - this.#tailFrom;
  }

  /** The highest seq this log has seen stored. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Sends accepted but not yet answered. */
  get pending(): number {
    return this.#inFlight.size;
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  /** Queue a send; resolves once it is durable (or refused). Never rejects. */
  submit(draft: Draft): Promise<SendOutcome> {
    const hash = clientHash(draft.senderId, draft.clientMsgId);
    const known = this.#recentReply(hash, draft.senderId, draft.clientMsgId);
    if (known) return Promise.resolve({ ok: true, reply: { ...known, duplicate: true } });
    const key = replyKey(draft.senderId, draft.clientMsgId);
    if (this.#fenced || this.#closed) return Promise.resolve({ ok: false, refusal: refusal("UNAVAILABLE", "this conversation moved; join again and resend") });

    const inFlight = this.#inFlight.get(key);
    if (inFlight) return new Promise((resolve) => inFlight.waiters.push(resolve));

    if (this.#inFlight.size >= this.#options.maxPending) {
      return Promise.resolve({ ok: false, refusal: refusal("UNAVAILABLE", "too many messages are waiting for the store; resend later", 500) });
    }
    return new Promise((resolve) => {
      const pending: Pending = { draft, key, hash, waiters: [resolve], origin: currentContext() };
      this.#inFlight.set(key, pending);
      this.#queue.push(pending);
      this.#scheduleFlush();
    });
  }

  /**
   * Another room owns the conversation now (its lease moved): refuse what is queued, take no new
   * sends, and tell the room. A write already in flight still completes or meets the seq fence.
   */
  relinquish(): void {
    if (!this.#fenced) this.#fence([]);
  }

  /** Drain: refuse new sends (UNAVAILABLE, resend after joining again); what is queued still gets written. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves once nothing is queued or in flight (used by drain). */
  settled(): Promise<void> {
    if (!this.#writing && this.#inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #scheduleFlush(): void {
    if (this.#writing) return;
    this.#writing = true;
    // Let sends arriving in the same tick join this write.
    queueMicrotask(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#fenced) {
        if (this.#mustReconcile) {
          if (!(await this.#reconcile())) {
            this.#refuseAll(LOG_DOWN);
            break;
          }
          this.#answerStoredFromQueue();
          if (this.#queue.length === 0) break;
        }
        await this.#writeBatch(this.#queue.splice(0, this.#maxBatch));
      }
    } catch (error) {
      // A bug, not an outage: answer everyone rather than leave sends hanging.
      this.#options.onWriteFailed(error);
      this.#refuseAll(LOG_DOWN);
      for (const pending of [...this.#inFlight.values()]) this.#answer(pending, { ok: false, refusal: LOG_DOWN });
    } finally {
      this.#writing = false;
      if (this.#inFlight.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    const sentAt = this.#options.now ? this.#options.now().toISOString() : isoNow();
    const messages: Message[] = batch.map((pending, index) => ({
      conversationId: this.conversationId,
      seq: this.#lastSeq + 1 + index,
      senderId: pending.draft.senderId,
      senderName: pending.draft.senderName,
      text: pending.draft.text,
      sentAt,
      clientMsgId: pending.draft.clientMsgId,
      ...(pending.draft.filtered && { filtered: true as const }),
      ...(pending.draft.shadow && { shadow: true as const }),
    }));

    const traced = startWriteSpan(this.conversationId, batch);
    // Never let a synchronous throw of `append` escape the flush loop.
    const write = withContext(traced?.context, () => Promise.resolve().then(() => this.#options.append(messages)));
    // Whether the write itself has settled: a write that failed with a timeout of its own (a group
    // commit's) must end the wait below, not be taken for our timer and awaited again forever.
    let writeSettled = false;
    write.then(
      () => (writeSettled = true),
      () => (writeSettled = true),
    );
    let outcome: AppendOutcome;
    try {
      outcome = await withTimeout(write, this.#options.storeTimeoutMs);
      traced?.span.setAttribute("parley.stored", outcome.stored);
    } catch (error) {
      traced?.span.recordException(error instanceof Error ? error : String(error));
      traced?.span.end();
      this.#options.onWriteFailed(error);
      for (const pending of batch) this.#answer(pending, { ok: false, refusal: LOG_DOWN });
      // A timed-out write may still land. Wait for it to settle before numbering anything again, so
      // a late write can never collide with a new one, refusing what queues meanwhile; then the next
      // write first reads back whatever did land.
      for (;;) {
        try {
          const late = await withTimeout(write, this.#options.storeTimeoutMs);
          this.#accept(messages.slice(0, late.stored), []);
          if (late.conflict?.kind === "seq-taken") {
            this.#fence([]);
            return;
          }
        } catch (stillPending) {
          if (!writeSettled && isTimeout(stillPending)) {
            this.#refuseAll(LOG_DOWN);
            continue;
          }
        }
        break;
      }
      this.#mustReconcile = true;
      return;
    }

    traced?.span.end();
    // Delivery and acknowledgements run in the write's span: fan-out shows as its child.
    withContext(traced?.context, () => this.#accept(messages.slice(0, outcome.stored), batch.slice(0, outcome.stored)));
    const conflict = outcome.conflict;
    if (!conflict) return;
    const rest = batch.slice(conflict.index + 1);
    const refused = batch[conflict.index]!;
    if (conflict.kind === "seq-taken") {
      this.#fence([refused, ...rest]);
      return;
    }
    // duplicate-client-msg: answer it with the stored original. What followed it may be stored
    // already too (a driver retry of a write that had landed), so read back before numbering the
    // rest again.
    this.#queue.unshift(...rest);
    this.#mustReconcile = true;
    await this.#answerFromStore(refused);
  }

  /** Record stored messages, deliver them, then acknowledge their senders. */
  #accept(stored: readonly Message[], answered: readonly Pending[]): void {
    if (stored.length === 0) return;
    if (stored[0]!.seq !== this.#lastSeq + 1) {
      this.#tail = [];
      this.#tailSkip = 0;
      this.#tailFrom = stored[0]!.seq;
    }
    this.#lastSeq = stored.at(-1)!.seq;
    for (const message of stored) this.#tail.push(JSON.stringify(message));
    const cap = this.#options.tailCap ?? 500;
    const excess = this.#tailLength - cap;
    if (excess > 0) {
      this.#tailSkip += excess;
      this.#tailFrom += excess;
      if (this.#tailSkip * 4 >= cap) {
        this.#tail.splice(0, this.#tailSkip);
        this.#tailSkip = 0;
      }
    }
    const replies = stored.map((message, index): SendReply => {
      this.#remember(answered[index]?.hash ?? clientHash(message.senderId, message.clientMsgId), message.seq);
      return { seq: message.seq, sentAt: message.sentAt, duplicate: false };
    });
    try {
      this.#options.onDurable(stored);
    } catch (error) {
      // Delivery is at most once; the messages are stored and the senders still get their acks.
      this.#options.onWriteFailed(error);
    }
    answered.forEach((pending, index) => this.#answer(pending, { ok: true, reply: replies[index]! }));
  }

  async #answerFromStore(pending: Pending): Promise<void> {
    const { senderId, clientMsgId } = pending.draft;
    try {
      const original = await withTimeout(this.#options.store.findByClientMsgId(this.conversationId, senderId, clientMsgId), this.#options.storeTimeoutMs);
      if (!original) throw new Error("duplicate clientMsgId reported but not found");
      this.#remember(pending.hash, original.seq);
      this.#answer(pending, { ok: true, reply: { seq: original.seq, sentAt: original.sentAt, duplicate: true } });
    } catch (error) {
      this.#options.onWriteFailed(error);
      this.#answer(pending, { ok: false, refusal: LOG_DOWN });
    }
  }

  /** After a failed write: read what the store holds beyond lastSeq and deliver it. */
  async #reconcile(): Promise<boolean> {
    try {
      for (;;) {
        const page = await withTimeout(this.#options.store.listAfter(this.conversationId, this.#lastSeq, 500), this.#options.storeTimeoutMs);
        this.#accept(page.messages, []);
        if (!page.hasMore) break;
      }
      this.#mustReconcile = false;
      return true;
    } catch (error) {
      this.#options.onWriteFailed(error);
      return false;
    }
  }

  /** Answer queued sends that a read-back found stored already (their own earlier write landed). */
  #answerStoredFromQueue(): void {
    this.#queue = this.#queue.filter((pending) => {
      const stored = this.#recentReply(pending.hash, pending.draft.senderId, pending.draft.clientMsgId);
      if (!stored) return true;
      this.#answer(pending, { ok: true, reply: stored });
      return false;
    });
  }

  #fence(refused: Pending[]): void {
    this.#fenced = true;
    const moved = refusal("UNAVAILABLE", "this conversation moved; join again and resend");
    for (const pending of [...refused, ...this.#queue.splice(0)]) this.#answer(pending, { ok: false, refusal: moved });
    this.#options.onFenced();
  }

  #refuseAll(reason: Refusal): void {
    for (const pending of this.#queue.splice(0)) this.#answer(pending, { ok: false, refusal: reason });
  }

  #answer(pending: Pending, outcome: SendOutcome): void {
    this.#inFlight.delete(pending.key);
    pending.waiters.forEach((resolve, index) => {
      // The first caller gets the reply as is; anyone who sent the same clientMsgId meanwhile
      // gets the same seq and sentAt with duplicate: true.
      resolve(index === 0 || !outcome.ok ? outcome : { ok: true, reply: { ...outcome.reply, duplicate: true } });
    });
  }

  #remember(hash: number, seq: number): void {
    this.#recent.delete(hash);
    this.#recent.set(hash, seq);
    if (this.#recent.size > this.#recentCap) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /**
   * The first reply to this sender's clientMsgId, when it is recent and the tail holds its message.
   * A pair whose hash another pair took since, or whose message left the tail, is answered by the
   * store (a new write meets the duplicate and reads the original back).
   */
  #recentReply(hash: number, senderId: string, clientMsgId: string): SendReply | undefined {
    const seq = this.#recent.get(hash);
    const message = seq === undefined ? undefined : this.messageAt(seq);
    if (message === undefined || message.senderId !== senderId || message.clientMsgId !== clientMsgId) return undefined;
    return { seq: message.seq, sentAt: message.sentAt, duplicate: false };
  }
}

/** One sender's clientMsgId within this conversation. */
function replyKey(senderId: string, clientMsgId: string): string {
  // join makes a flat string; `+` or a template would make a rope, which the Map's hashing then
  // flattens into a copy that the rope keeps: two strings held per remembered reply instead of one.
  return [senderId, clientMsgId].join("\u0000");
}

/** The millisecond of the last isoNow and its text; the second's text up to the milliseconds ("2026-12-02T07:42:38."). */
let isoMs = Number.NaN;
let isoText = "";
let isoSecond = Number.NaN;
let isoPrefix = "";
/** "000Z" to "999Z". */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, "0")}Z`);

/**
 * `new Date().toISOString()`, with the date and time up to the second made once a second (it was a
 * fifth of the log's own time per message), and one string for all the writes of a millisecond.
 * Joined, not concatenated: a concatenation is a rope of three strings, flattened into a fourth
 * when first encoded, and every message held in memory would keep all of them.
 */
function isoNow(): string {
  const ms = Date.now();
  if (ms === isoMs) return isoText;
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years 0 to 9999 only have this shape (YYYY-MM-DDTHH:MM:SS.sssZ); any other date is made whole.
    if (iso.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = iso.slice(0, 20);
  }
  isoMs = ms;
  isoText = [isoPrefix, MILLIS[ms - second * 1000]].join("");
  return isoText;
}

function isTimeout(error: unknown): boolean {
  return error instanceof StoreTimeoutError;
}
