/**
 * Conversation: one joined chat conversation that survives migrates, drops and dead nodes. The app
 * sees every message exactly once in seq order, and every send is acknowledged once, in order,
 * however many times it had to go out.
 */
import { backoffDelayMs, delay, type BackoffOptions } from "./backoff.ts";
import { Emitter } from "./emitter.ts";
import { ParleyError } from "./errors.ts";
import { Outbox, type OutboxEntry } from "./outbox.ts";
import { isMessage, SYNC_PAGE_LIMIT, type ChatServerMessages, type Message, type MessagePage, type SendAck } from "./protocol.ts";
import { RequestFailure, type RoomHandle } from "./room-handle.ts";
import { RoomSession, type ConnectionState, type RoomSessionOptions } from "./room-session.ts";
import { decideAfterFailure, type AttemptFailure } from "./send-policy.ts";
import { SeqTracker } from "./seq-tracker.ts";
import { emitTrace, type TraceSink } from "./trace.ts";

/** Events of one conversation. */
export type ConversationEvents = {
  /** Every message exactly once, in seq order (live or from sync). */
  message: Message;
  typing: ChatServerMessages["typing"];
  read: ChatServerMessages["read"];
  state: ConnectionState;
  /** Joined again (after a migrate, drop or dead node) and caught up. */
  rejoined: { endpoint: string; reason: string; lastSeq: number };
  /** The conversation gave up for good (join refused, unreachable, removed). */
  error: ParleyError;
  /** 1.1: the message at `seq` is now a tombstone: show it as deleted, in place. */
  deleted: ChatServerMessages["deleted"];
  /** 1.1: moderation removed this user (kicked or banned); the kit does not rejoin (`error` REMOVED follows). */
  removed: ChatServerMessages["removed"];
  /** 1.1: the conversation's history was restored to an earlier point: drop what you show; messages are delivered again from seq 1. */
  reloaded: { epoch: string };
};

/** Per-conversation options. */
export type ConversationOptions = {
  /** Messages at or below this seq are not delivered; "newest" starts after the newest message at join. @default 0 */
  afterSeq?: number | "newest";
  /** Unacknowledged sends held at once. @default 100 */
  maxOutstanding?: number;
  /** Fail a send with TIMEOUT when unacknowledged this long; undefined retries until close. @default undefined */
  sendTimeoutMs?: number;
  /** Early live messages held while a gap is filled. @default 1000 */
  maxBuffered?: number;
};

/** What a Conversation needs from the client that owns it. */
export type ConversationDeps = {
  session: Omit<RoomSessionOptions, "roomName" | "conversationId" | "joinOptions" | "bind" | "onJoined" | "onRejoined" | "onState" | "onGiveUp">;
  identity: Record<string, unknown>;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  trace?: TraceSink;
  onState(): void;
};

/** Retries of one sync or history page on RATE_LIMITED / UNAVAILABLE before the room is given up. */
const MAX_READ_RETRIES = 5;

/** One chat conversation kept joined, caught up and flushed. */
export class Conversation {
  readonly id: string;
  readonly events = new Emitter<ConversationEvents>();
  readonly #deps: ConversationDeps;
  readonly #session: RoomSession;
  readonly #outbox: Outbox;
  readonly #tracker: SeqTracker;
  #startAfterNewest: boolean;
  #pumpGeneration = 0;
  #pumpRunning = false;
  /** The room whose seat was taken last (caught up or not); the outbox sends there while it is current. */
  #seated: { room: RoomHandle; isCurrent: () => boolean } | undefined;
  #gapFill: Promise<void> | undefined;
  #closed = false;
  /** The history epoch of the last welcome; undefined until one (a v1 server sends none). */
  #epoch: string | undefined;

  constructor(conversationId: string, options: ConversationOptions, deps: ConversationDeps) {
    this.id = conversationId;
    this.#deps = deps;
    this.#outbox = new Outbox({ maxOutstanding: options.maxOutstanding, sendTimeoutMs: options.sendTimeoutMs });
    this.#tracker = new SeqTracker({ lastSeq: typeof options.afterSeq === "number" ? options.afterSeq : 0, maxBuffered: options.maxBuffered });
    this.#startAfterNewest = options.afterSeq === "newest";
    this.#session = new RoomSession({
      ...deps.session,
      roomName: "chat",
      conversationId,
      joinOptions: () => ({ conversationId, ...deps.identity }),
      bind: (room, isCurrent) => this.#bind(room, isCurrent),
      onJoined: (room, isCurrent) => this.#catchUp(room, isCurrent),
      onRejoined: (room, reason) => {
        this.events.emit("rejoined", { endpoint: room.endpoint, reason, lastSeq: this.#tracker.lastSeq });
      },
      onState: (state) => {
        if (state === "connected") this.#pump();
        this.events.emit("state", state);
        deps.onState();
      },
      onGiveUp: (error) => {
        this.#failOutbox(() => error);
        this.events.emit("error", error);
      },
    });
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends keyof ConversationEvents>(type: K, listener: (payload: ConversationEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  /** Where this conversation's connection stands. */
  get state(): ConnectionState {
    return this.#session.state;
  }

  /** Seq of the last message delivered to the app. */
  get lastSeq(): number {
    return this.#tracker.lastSeq;
  }

  /** Sends waiting for their ack. */
  get pendingSends(): number {
    return this.#outbox.size;
  }

  /** Join and catch up; resolves when connected, rejects with a ParleyError when refused for good. */
  start(): Promise<void> {
    return this.#session.start();
  }

  /**
   * Send `text`. Resolves with the ack once the message is durable (`duplicate` if an earlier
   * attempt already stored it); rejects with a ParleyError (OUTBOX_FULL, INVALID, TOO_LONG,
   * FORBIDDEN, TIMEOUT, CLOSED). Sends go out one at a time, in call order.
   */
  send(text: string, options: { clientMsgId?: string } = {}): Promise<SendAck> {
    if (this.#closed || this.#session.state === "disconnected") return Promise.reject(new ParleyError("CLOSED", `conversation ${this.id} is closed`));
    const clientMsgId = options.clientMsgId ?? newClientMsgId();
    emitTrace(this.#deps.trace, { type: "send", conversationId: this.id, clientMsgId, t: Date.now() });
    const acked = this.#outbox.add(clientMsgId, text);
    acked.catch((error: unknown) => {
      if (error instanceof ParleyError && error.code === "OUTBOX_FULL") {
        emitTrace(this.#deps.trace, { type: "fail", conversationId: this.id, clientMsgId, code: error.code, maybeStored: false, t: Date.now() });
      }
    });
    this.#pump();
    return acked;
  }

  /** Tell the others in the room that this user is typing (dropped while reconnecting). */
  typing(): void {
    this.#session.room?.send("typing");
  }

  /** Move this user's read cursor to `seq`; the others get `read`. */
  async markRead(seq: number): Promise<void> {
    await this.#readRequest("read", { seq });
  }

  /** Older messages for scrollback (not passed through the exactly-once stream). */
  history(options: { beforeSeq?: number; limit?: number } = {}): Promise<MessagePage> {
    return this.#readRequest<MessagePage>("history", options);
  }

  /** Leave; unacknowledged sends fail with CLOSED (maybeStored when an attempt went out). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pumpGeneration++;
    this.#session.close();
    this.#failOutbox((entry) => new ParleyError("CLOSED", `conversation ${this.id} closed before the ack`, { maybeStored: entry.attempts > 0 }));
  }

  #bind(room: RoomHandle, isCurrent: () => boolean): void {
    // Sends go out as soon as the seat is taken, while the catch-up runs: a send waiting through a
    // migrate or a reconnect does not also wait for the sync (the room dedups by clientMsgId, and
    // the tracker orders what arrives live and by sync alike).
    this.#seated = { room, isCurrent };
    this.#restartPump();
    room.onMessage("message", (payload) => {
      if (!isCurrent() || !isMessage(payload)) return;
      this.#offer(payload, "live");
      if (this.#tracker.hasGap) this.#fillGap();
    });
    room.onMessage("typing", (payload) => {
      if (isCurrent()) this.events.emit("typing", payload as ChatServerMessages["typing"]);
    });
    room.onMessage("read", (payload) => {
      if (isCurrent()) this.events.emit("read", payload as ChatServerMessages["read"]);
    });
    room.onMessage("error", () => {
      // Only fire-and-forget frames (typing) get `error`; nothing waits for them.
    });
    room.onMessage("welcome", (payload) => {
      if (isCurrent()) this.#welcome(payload as ChatServerMessages["welcome"], room, isCurrent);
    });
    room.onMessage("deleted", (payload) => {
      if (isCurrent()) this.events.emit("deleted", payload as ChatServerMessages["deleted"]);
    });
    room.onMessage("removed", (payload) => {
      if (isCurrent()) this.events.emit("removed", payload as ChatServerMessages["removed"]);
    });
  }

  /** A changed epoch means seqs may be reused: forget the kept lastSeq and load again from the start. */
  #welcome({ epoch }: ChatServerMessages["welcome"], room: RoomHandle, isCurrent: () => boolean): void {
    const kept = this.#epoch;
    this.#epoch = epoch;
    if (kept === undefined || kept === epoch) return;
    this.#tracker.reset();
    this.events.emit("reloaded", { epoch });
    // The join's own catch-up may already be syncing from the old lastSeq: load again from seq 1 on
    // this room (the tracker drops anything delivered twice).
    void this.#catchUp(room, isCurrent).catch(() => undefined);
  }

  /** Release what the tracker allows, in order. */
  #offer(message: Message, via: "live" | "sync"): void {
    if (message.conversationId !== this.id) return;
    for (const released of this.#tracker.offer(message)) this.#release(released, via);
  }

  #release(message: Message, via: "live" | "sync"): void {
    emitTrace(this.#deps.trace, { type: "receive", conversationId: this.id, seq: message.seq, clientMsgId: message.clientMsgId, senderId: message.senderId, via, t: Date.now() });
    this.events.emit("message", message);
  }

  /** On every (re)join: find the start if asked, then sync from the last seq until nothing is missing. */
  async #catchUp(room: RoomHandle, isCurrent: () => boolean): Promise<void> {
    if (this.#startAfterNewest) {
      const newest = await this.#request<MessagePage>(room, isCurrent, "history", { limit: 1 });
      this.#startAfterNewest = false;
      for (const message of this.#tracker.skipTo(newest.messages.at(-1)?.seq ?? 0)) this.#release(message, "live");
    }
    let emptyPages = 0;
    while (isCurrent()) {
      const before = this.#tracker.lastSeq;
      const page = await this.#request<MessagePage>(room, isCurrent, "sync", { afterSeq: before, limit: SYNC_PAGE_LIMIT });
      for (const message of page.messages) if (isMessage(message)) this.#offer(message, "sync");
      if (page.hasMore) continue;
      if (!this.#tracker.hasGap) return;
      // A seq above ours was seen live but sync has not got it yet: wait a little, then ask again.
      if (this.#tracker.lastSeq === before && ++emptyPages > MAX_READ_RETRIES) throw new Error(`sync after ${before} keeps missing seq ${before + 1}`);
      await delay(backoffDelayMs(emptyPages, this.#deps.backoff));
    }
  }

  /** Fill a gap seen while connected; one fill at a time, on the current room. */
  #fillGap(): void {
    const room = this.#session.room;
    if (!room || this.#gapFill) return;
    const isCurrent = () => this.#session.room === room;
    this.#gapFill = this.#catchUp(room, isCurrent)
      .catch((error: unknown) => {
        if (error instanceof RequestFailure && error.failure.kind === "timeout") void this.#session.suspect(room);
      })
      .finally(() => {
        this.#gapFill = undefined;
      });
  }

  /** A read-only request (sync, history, read) on `room`, retried on RATE_LIMITED and UNAVAILABLE. */
  async #request<T>(room: RoomHandle, isCurrent: () => boolean, type: string, payload: unknown): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await room.request<T>(type, payload, this.#deps.requestTimeoutMs);
      } catch (error) {
        const failure = error instanceof RequestFailure ? error.failure : undefined;
        const retryable = failure?.kind === "fault" || (failure?.kind === "refused" && (failure.refusal.code === "RATE_LIMITED" || failure.refusal.code === "UNAVAILABLE"));
        if (!retryable || attempt >= MAX_READ_RETRIES || !isCurrent()) throw error;
        const wait = failure?.kind === "refused" && failure.refusal.retryAfterMs ? failure.refusal.retryAfterMs : backoffDelayMs(attempt, this.#deps.backoff);
        await delay(wait);
      }
    }
  }

  /** An app-level read request on whatever room is current; refusals become ParleyErrors. */
  async #readRequest<T>(type: string, payload: unknown): Promise<T> {
    const room = this.#session.room;
    if (!room) throw new ParleyError("CLOSED", `conversation ${this.id} is ${this.#session.state}; try again when connected`);
    try {
      return await this.#request<T>(room, () => this.#session.room === room, type, payload);
    } catch (error) {
      const failure = error instanceof RequestFailure ? error.failure : undefined;
      if (failure?.kind === "refused") {
        const code = failure.refusal.code === "TOO_LONG" || failure.refusal.code === "FORBIDDEN" ? failure.refusal.code : "INVALID";
        throw new ParleyError(code, failure.refusal.message);
      }
      if (failure?.kind === "timeout") void this.#session.suspect(room);
      throw new ParleyError("CLOSED", `${type} got no answer: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Start the outbox loop if it is idle and the room is ready. */
  #pump(): void {
    if (this.#pumpRunning || this.#closed) return;
    const seated = this.#seated;
    if (!seated?.isCurrent() || !this.#outbox.head) return;
    this.#pumpRunning = true;
    const generation = ++this.#pumpGeneration;
    void this.#pumpLoop(seated.room, seated.isCurrent, generation);
  }

  /** After a (re)join: drop the old loop (it may be waiting on a dead socket) and flush on the new room. */
  #restartPump(): void {
    this.#pumpGeneration++;
    this.#pumpRunning = false;
    this.#pump();
  }

  /** Send the head of the outbox until acked or given up, then the next; stop when the room changes. */
  async #pumpLoop(room: RoomHandle, isCurrent: () => boolean, generation: number): Promise<void> {
    const live = () => this.#pumpGeneration === generation && isCurrent();
    let failures = 0;
    try {
      while (live()) {
        const entry = this.#outbox.head;
        if (!entry) return;
        entry.attempts++;
        try {
          const ack = await room.request<SendAck>("send", { clientMsgId: entry.clientMsgId, text: entry.text }, this.#deps.requestTimeoutMs);
          failures = 0;
          this.#acknowledge(entry, ack);
        } catch (error) {
          const failure: AttemptFailure = error instanceof RequestFailure ? error.failure : { kind: "fault", message: String(error) };
          failures++;
          const decision = decideAfterFailure(failure, failures, entry.maybeStored, this.#deps.backoff);
          if (decision.action === "give-up") {
            if (this.#outbox.fail(entry, decision.error)) {
              emitTrace(this.#deps.trace, { type: "fail", conversationId: this.id, clientMsgId: entry.clientMsgId, code: decision.error.code, maybeStored: decision.error.maybeStored, t: Date.now() });
            }
            failures = 0;
            continue;
          }
          if (decision.outcomeUnknown && this.#outbox.holds(entry)) {
            entry.maybeStored = true;
            emitTrace(this.#deps.trace, { type: "unknown", conversationId: this.id, clientMsgId: entry.clientMsgId, reason: describe(failure), attempt: entry.attempts, t: Date.now() });
          }
          // A closed socket: the session rejoins and restarts the loop on the new room.
          if (decision.needsRejoin) return;
          if (decision.suspectNode && !(await this.#session.suspect(room))) return;
          await delay(decision.delayMs);
        }
      }
    } finally {
      // Cleared in the turn the loop ends: a send made right after an ack (whose continuation
      // runs next) must start a new loop, not find this one still "running".
      if (this.#pumpGeneration === generation) this.#pumpRunning = false;
    }
  }

  #acknowledge(entry: OutboxEntry, ack: SendAck): void {
    if (!this.#outbox.acknowledge(entry, ack)) return;
    emitTrace(this.#deps.trace, { type: "ack", conversationId: this.id, clientMsgId: entry.clientMsgId, seq: ack.seq, duplicate: ack.duplicate, attempts: entry.attempts, t: Date.now() });
    // The room broadcasts a message before acking it, so an ack above our last seq means a lost delivery.
    this.#tracker.noteExists(ack.seq);
    if (this.#tracker.hasGap) this.#fillGap();
  }

  #failOutbox(errorFor: (entry: OutboxEntry) => ParleyError): void {
    for (const entry of this.#outbox.failAll(errorFor)) {
      const error = errorFor(entry);
      emitTrace(this.#deps.trace, { type: "fail", conversationId: this.id, clientMsgId: entry.clientMsgId, code: error.code, maybeStored: error.maybeStored, t: Date.now() });
    }
  }
}

function describe(failure: AttemptFailure): string {
  switch (failure.kind) {
    case "refused":
      return failure.refusal.code;
    case "fault":
      return `fault: ${failure.message}`;
    default:
      return failure.kind;
  }
}

/** A fresh clientMsgId (a UUID where the platform has one). */
export function newClientMsgId(): string {
  const uuid = globalThis.crypto?.randomUUID?.();
  if (uuid) return uuid;
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
