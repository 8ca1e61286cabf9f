/**
 * Inbox: the user's `inbox` room kept joined through any node. `notify` is at most once (the
 * protocol keeps no seq across conversations), so after a rejoin the app asks `unread()` again.
 */
import { Emitter } from "./emitter.ts";
import { ParleyError } from "./errors.ts";
import { isMessage, type Message, type UnreadReply } from "./protocol.ts";
import { RequestFailure } from "./room-handle.ts";
import { RoomSession, type ConnectionState, type RoomSessionOptions } from "./room-session.ts";

/** Events of the inbox. */
export type InboxEvents = {
  /** A message for this user in a dm or group conversation, sent by someone else. */
  notify: Message;
  state: ConnectionState;
  /** Joined again: notifies may have been missed meanwhile; call `unread()`. */
  rejoined: { endpoint: string; reason: string };
  error: ParleyError;
};

/** What an Inbox needs from its client. */
export type InboxDeps = {
  session: Omit<RoomSessionOptions, "roomName" | "conversationId" | "joinOptions" | "bind" | "onJoined" | "onRejoined" | "onState" | "onGiveUp">;
  identity: Record<string, unknown>;
  requestTimeoutMs: number;
  onState(): void;
};

/** The user's inbox room. */
export class Inbox {
  readonly events = new Emitter<InboxEvents>();
  readonly #session: RoomSession;
  readonly #requestTimeoutMs: number;

  constructor(deps: InboxDeps) {
    this.#requestTimeoutMs = deps.requestTimeoutMs;
    this.#session = new RoomSession({
      ...deps.session,
      roomName: "inbox",
      joinOptions: () => ({ ...deps.identity }),
      bind: (room, isCurrent) => {
        room.onMessage("notify", (payload) => {
          if (isCurrent() && isMessage(payload)) this.events.emit("notify", payload);
        });
      },
      onJoined: async () => undefined,
      onRejoined: (room, reason) => this.events.emit("rejoined", { endpoint: room.endpoint, reason }),
      onState: (state) => {
        this.events.emit("state", state);
        deps.onState();
      },
      onGiveUp: (error) => this.events.emit("error", error),
    });
  }

  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends keyof InboxEvents>(type: K, listener: (payload: InboxEvents[K]) => void): () => void {
    return this.events.on(type, listener);
  }

  /** Where the inbox connection stands. */
  get state(): ConnectionState {
    return this.#session.state;
  }

  /** Join; resolves when connected, rejects with a ParleyError when refused for good. */
  start(): Promise<void> {
    return this.#session.start();
  }

  /** Last seq and read cursor of each of this user's conversations. */
  async unread(): Promise<UnreadReply> {
    const room = this.#session.room;
    if (!room) throw new ParleyError("CLOSED", `the inbox is ${this.#session.state}; try again when connected`);
    try {
      return await room.request<UnreadReply>("unread", {}, this.#requestTimeoutMs);
    } catch (error) {
      if (error instanceof RequestFailure && error.failure.kind === "timeout") void this.#session.suspect(room);
      throw new ParleyError("CLOSED", `unread got no answer: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Leave the inbox. */
  close(): void {
    this.#session.close();
  }
}
