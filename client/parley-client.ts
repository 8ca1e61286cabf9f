/**
 * ParleyClient: the entry point of the kit. It holds the identity and the endpoints, and keeps a
 * Conversation per joined conversation and the Inbox, re-emitting their events with context.
 */
import { DEFAULT_BACKOFF, type BackoffOptions } from "./backoff.ts";
import { Conversation, type ConversationOptions } from "./conversation.ts";
import { Emitter } from "./emitter.ts";
import { EndpointRing } from "./endpoints.ts";
import type { ParleyError } from "./errors.ts";
import { Inbox } from "./inbox.ts";
import type { ChatServerMessages, Message } from "./protocol.ts";
import { createSdkConnector, type Connector } from "./room-handle.ts";
import type { ConnectionState, SessionTiming } from "./room-session.ts";
import type { TraceSink } from "./trace.ts";

/** Options of a {@link ParleyClient}. */
export type ParleyClientOptions = {
  /** HTTP(S) URLs of the nodes, tried round-robin (any node reaches any conversation). */
  endpoints: string | readonly string[];
  /** A JWT, or a function returning a fresh one before each join. */
  token?: string | (() => string | Promise<string>);
  /** Development identity, used when the server has no JWT key. */
  identity?: { userId: string; name?: string };
  /** JSONL-friendly event hook for chaos harnesses. */
  onTrace?: TraceSink;
  /** A join through one endpoint that takes longer is abandoned. @default 10000 */
  joinTimeoutMs?: number;
  /** A request with no reply this long counts as "no answer" (the node is pinged). @default 10000 */
  requestTimeoutMs?: number;
  /** Ping each room's node this often. @default 10000 */
  heartbeatIntervalMs?: number;
  /** A ping unanswered this long means the node is dead. @default 5000 */
  heartbeatTimeoutMs?: number;
  /** Join attempts in a row before a room gives up with UNREACHABLE. @default Infinity */
  maxJoinAttempts?: number;
  /** Spacing of retries (joins, UNAVAILABLE, gap fills). */
  backoff?: Partial<BackoffOptions>;
  /** Defaults for every conversation (each join may override). */
  conversation?: ConversationOptions;
  /** Replaces the stock SDK (tests). */
  connector?: Connector;
};

/** Events of the whole client, each carrying its conversation. */
export type ParleyClientEvents = {
  message: Message;
  typing: ChatServerMessages["typing"] & { conversationId: string };
  read: ChatServerMessages["read"] & { conversationId: string };
  notify: Message;
  /** The worst state over every room: reconnecting if any is, connected if all are. */
  state: ConnectionState;
  rejoined: { conversationId?: string; endpoint: string; reason: string };
  error: { conversationId?: string; error: ParleyError };
  /** 1.1: a message became a tombstone; show it as deleted in place. */
  deleted: ChatServerMessages["deleted"];
  /** 1.1: moderation removed this user from a conversation; the kit does not rejoin it. */
  removed: ChatServerMessages["removed"];
  /** 1.1: a conversation's history was restored: drop what it shows; messages come again from seq 1. */
  reloaded: { conversationId: string; epoch: string };
};

/** A resilient Parley client: join conversations and the inbox through any node. */
export class ParleyClient {
  readonly events = new Emitter<ParleyClientEvents>();
  readonly #options: ParleyClientOptions;
  readonly #ring: EndpointRing;
  readonly #connector: Connector;
  readonly #timing: SessionTiming;
  readonly #backoff: BackoffOptions;
  readonly #conversations = new Map<string, { conversation: Conversation; started: Promise<void> }>();
  #inbox: { inbox: Inbox; started: Promise<void> } | undefined;
  #state: ConnectionState = "disconnected";
  #closed = false;

  constructor(options: ParleyClientOptions) {
    this.#options = options;
    this.#ring = new EndpointRing(typeof options.endpoints === "string" ? [options.endpoints] : options.endpoints);
    this.#connector = options.connector ?? createSdkConnector();
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#timing = {
      joinTimeoutMs: options.joinTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 10_000,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 5_000,
      backoff: this.#backoff,
      maxJoinAttempts: options.maxJoinAttempts ?? Infinity,
    };
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends keyof ParleyClientEvents>(type: K, listener: (payload: ParleyClientEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  /** The worst state over every room; `disconnected` before the first join and after close. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The conversation joined with this id, if any. */
  conversation(conversationId: string): Conversation | undefined {
    return this.#conversations.get(conversationId)?.conversation;
  }

  /**
   * Join a conversation (or return the one already joined) once connected and caught up. Rejects
   * with a ParleyError when refused for good (FORBIDDEN, INVALID, UNAUTHENTICATED, UNREACHABLE).
   */
  async join(conversationId: string, options: ConversationOptions = {}): Promise<Conversation> {
    if (this.#closed) throw new Error("the client is closed");
    let joined = this.#conversations.get(conversationId);
    if (!joined) {
      const conversation = new Conversation(
        conversationId,
        { ...this.#options.conversation, ...options },
        {
          session: this.#sessionDeps(),
          identity: this.#identity(),
          requestTimeoutMs: this.#options.requestTimeoutMs ?? 10_000,
          backoff: this.#backoff,
          trace: this.#options.onTrace,
          onState: () => this.#updateState(),
        },
      );
      conversation.on("message", (message) => this.events.emit("message", message));
      conversation.on("typing", (typing) => this.events.emit("typing", { ...typing, conversationId }));
      conversation.on("read", (read) => this.events.emit("read", { ...read, conversationId }));
      conversation.on("rejoined", ({ endpoint, reason }) => this.events.emit("rejoined", { conversationId, endpoint, reason }));
      conversation.on("error", (error) => this.events.emit("error", { conversationId, error }));
      conversation.on("deleted", (deleted) => this.events.emit("deleted", deleted));
      conversation.on("removed", (removed) => this.events.emit("removed", removed));
      conversation.on("reloaded", ({ epoch }) => this.events.emit("reloaded", { conversationId, epoch }));
      joined = { conversation, started: conversation.start() };
      this.#conversations.set(conversationId, joined);
      joined.started.catch(() => this.#conversations.delete(conversationId));
      this.#updateState();
    }
    await joined.started;
    return joined.conversation;
  }

  /** Join the user's inbox (or return it) once connected. */
  async inbox(): Promise<Inbox> {
    if (this.#closed) throw new Error("the client is closed");
    if (!this.#inbox) {
      const inbox = new Inbox({ session: this.#sessionDeps(), identity: this.#identity(), requestTimeoutMs: this.#options.requestTimeoutMs ?? 10_000, onState: () => this.#updateState() });
      inbox.on("notify", (message) => this.events.emit("notify", message));
      inbox.on("rejoined", ({ endpoint, reason }) => this.events.emit("rejoined", { endpoint, reason }));
      inbox.on("error", (error) => this.events.emit("error", { error }));
      this.#inbox = { inbox, started: inbox.start() };
      const current = this.#inbox;
      current.started.catch(() => {
        if (this.#inbox === current) this.#inbox = undefined;
      });
    }
    await this.#inbox.started;
    return this.#inbox.inbox;
  }

  /** Leave a conversation; its unacknowledged sends fail with CLOSED. */
  leave(conversationId: string): void {
    this.#conversations.get(conversationId)?.conversation.close();
    this.#conversations.delete(conversationId);
    this.#updateState();
  }

  /** Leave every room; unacknowledged sends fail with CLOSED. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { conversation } of this.#conversations.values()) conversation.close();
    this.#conversations.clear();
    this.#inbox?.inbox.close();
    this.#inbox = undefined;
    this.#updateState();
  }

  #sessionDeps() {
    const { token } = this.#options;
    return {
      ring: this.#ring,
      connector: this.#connector,
      token: async () => (typeof token === "function" ? await token() : token),
      tokenRefreshes: typeof token === "function",
      timing: this.#timing,
      trace: this.#options.onTrace,
    };
  }

  #identity(): Record<string, unknown> {
    const { identity } = this.#options;
    return identity ? { userId: identity.userId, name: identity.name ?? identity.userId } : {};
  }

  #updateState(): void {
    const states = [...this.#conversations.values()].map(({ conversation }) => conversation.state);
    if (this.#inbox) states.push(this.#inbox.inbox.state);
    const live = states.filter((state) => state !== "disconnected");
    let next: ConnectionState;
    if (this.#closed || live.length === 0) next = "disconnected";
    else if (live.includes("reconnecting")) next = "reconnecting";
    else if (live.includes("connecting")) next = "connecting";
    else next = "connected";
    if (next === this.#state) return;
    this.#state = next;
    this.events.emit("state", next);
  }
}
