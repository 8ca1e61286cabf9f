/**
 * The demo's chat state, fed by the client kit: conversations with their messages keyed by seq
 * (so a message is shown once, in order, whatever the kit replays), unread counts, typing, the
 * connection state, and each send's fate in words a player understands.
 */
import { type Conversation, type Message, ParleyClient, ParleyError } from "../../client/index.ts";

/** A send shown in the list until its message arrives, or with why it was refused. */
export type PendingSend = { id: number; text: string; refusal?: string; slow?: boolean };

export type ConversationView = {
  id: string;
  title: string;
  messages: Map<number, Message>;
  pending: PendingSend[];
  unread: number;
  typing: { name: string; until: number } | undefined;
  hasOlder: boolean;
  joined: boolean;
  problem: string | undefined;
};

export type Connection = "connecting" | "connected" | "reconnecting" | "moved" | "disconnected";

/** Words for a send the server refused. */
export function describeRefusal(error: unknown): string {
  if (!(error instanceof ParleyError)) return "Your message could not be sent. Try again.";
  const detail = error.message.toLowerCase();
  switch (error.code) {
    case "FORBIDDEN":
      if (detail.includes("muted")) return "You can't send messages here right now: a moderator has muted you. Your message was not sent.";
      if (detail.includes("block")) return "This person isn't accepting your messages. Your message was not sent.";
      return "You're not allowed to post in this conversation. Your message was not sent.";
    case "TOO_LONG":
      return "Your message is too long. Shorten it and send it again.";
    case "INVALID":
      return "That message can't be sent (is it empty?).";
    case "REMOVED":
      return "You were removed from this conversation by a moderator.";
    case "CLOSED":
      return error.maybeStored ? "The connection closed before your message was confirmed; it may still appear." : "You left this conversation before your message went out.";
    default:
      return "Your message could not be sent. Try again.";
  }
}

/** Words for a join the server refused. */
export function describeJoinRefusal(error: unknown): string {
  if (error instanceof ParleyError && error.code === "FORBIDDEN") return error.message.includes("banned") ? "You are banned from this conversation." : "You're not a member of this conversation.";
  if (error instanceof ParleyError && error.code === "INVALID") return "That isn't a conversation Parley knows how to open.";
  return `Could not open this conversation (${error instanceof Error ? error.message : String(error)}).`;
}

/** A DM's id: the two user ids in code-point order. */
export function dmIdWith(me: string, other: string): string {
  return `dm:${[me, other].sort().join(":")}`;
}

/** Everything the page shows, and the actions it takes. `changed` is called after every change. */
export class ChatModel {
  readonly conversations = new Map<string, ConversationView>();
  active: string | undefined;
  connection: Connection = "connecting";
  #client: ParleyClient;
  #joined = new Map<string, Conversation>();
  #nextPending = 1;
  #movedTimer: ReturnType<typeof setTimeout> | undefined;
  readonly userId: string;
  readonly changed: () => void;

  constructor(userId: string, options: { endpoints: string[]; name: string; token?: string }, changed: () => void) {
    this.userId = userId;
    this.changed = changed;
    this.#client = new ParleyClient({ endpoints: options.endpoints, ...(options.token ? { token: options.token } : { identity: { userId, name: options.name } }) });
    const client = this.#client;
    client.on("message", (message) => this.#received(message));
    client.on("deleted", ({ conversationId, seq }) => {
      const message = this.conversations.get(conversationId)?.messages.get(seq);
      if (message) Object.assign(message, { deleted: true, text: "" });
      this.changed();
    });
    client.on("typing", ({ conversationId, userId: typist, name }) => {
      const view = this.conversations.get(conversationId);
      if (!view || typist === this.userId) return;
      view.typing = { name, until: Date.now() + 3000 };
      this.changed();
    });
    client.on("notify", (message) => {
      const view = this.#view(message.conversationId);
      if (!this.#joined.has(message.conversationId)) view.unread++;
      this.changed();
    });
    client.on("state", (state) => {
      if (this.connection !== "moved" || state !== "connected") this.connection = state;
      this.changed();
    });
    client.on("rejoined", ({ reason }) => {
      if (!reason.startsWith("migrate")) return;
      // Moved: the conversation's room went to another node and the kit followed it.
      this.connection = "moved";
      clearTimeout(this.#movedTimer);
      this.#movedTimer = setTimeout(() => {
        this.connection = this.#client.state;
        this.changed();
      }, 4000);
      this.changed();
    });
    client.on("removed", ({ conversationId, reason }) => {
      const view = this.#view(conversationId);
      view.joined = false;
      view.problem = reason === "banned" ? "A moderator banned you from this conversation." : "A moderator removed you from this conversation. You may join again.";
      this.#joined.delete(conversationId);
      this.changed();
    });
  }

  /** Join the inbox (DM and group notifications) and load unread counts. */
  async start(): Promise<void> {
    const inbox = await this.#client.inbox();
    for (const { conversationId, lastSeq, lastReadSeq } of (await inbox.unread()).conversations) {
      this.#view(conversationId).unread = Math.max(0, lastSeq - lastReadSeq);
    }
    this.changed();
  }

  /** Open a conversation: join it (once) and show its latest messages. */
  async open(conversationId: string): Promise<void> {
    const view = this.#view(conversationId);
    this.active = conversationId;
    view.unread = 0;
    view.problem = undefined;
    this.changed();
    if (this.#joined.has(conversationId)) return this.#markRead(view);
    try {
      const conversation = await this.#client.join(conversationId, { afterSeq: "newest" });
      this.#joined.set(conversationId, conversation);
      view.joined = true;
      const page = await conversation.history({ limit: 30 });
      for (const message of page.messages) view.messages.set(message.seq, message);
      view.hasOlder = page.hasMore;
      await this.#markRead(view);
    } catch (error) {
      view.problem = describeJoinRefusal(error);
    }
    this.changed();
  }

  /** Load the page of messages before the oldest shown. */
  async loadOlder(): Promise<void> {
    const view = this.active ? this.conversations.get(this.active) : undefined;
    const conversation = view && this.#joined.get(view.id);
    if (!view || !conversation || !view.hasOlder) return;
    const oldest = Math.min(...view.messages.keys());
    const page = await conversation.history({ beforeSeq: oldest, limit: 30 });
    for (const message of page.messages) view.messages.set(message.seq, message);
    view.hasOlder = page.hasMore;
    this.changed();
  }

  /** Send in the active conversation; a refusal stays on screen, in words. */
  send(text: string): void {
    const view = this.active ? this.conversations.get(this.active) : undefined;
    const conversation = view && this.#joined.get(view.id);
    if (!view || !conversation || !text.trim()) return;
    const pending: PendingSend = { id: this.#nextPending++, text };
    view.pending.push(pending);
    // A send the kit is still retrying (rate limit, reconnect) says so after a moment.
    const slow = setTimeout(() => {
      pending.slow = true;
      this.changed();
    }, 1500);
    conversation.send(text).then(
      () => {
        clearTimeout(slow);
        view.pending = view.pending.filter((entry) => entry !== pending);
        this.changed();
      },
      (error: unknown) => {
        clearTimeout(slow);
        pending.refusal = describeRefusal(error);
        this.changed();
      },
    );
    this.changed();
  }

  /** Drop a refused send from the list. */
  dismiss(pendingId: number): void {
    const view = this.active ? this.conversations.get(this.active) : undefined;
    if (view) view.pending = view.pending.filter((entry) => entry.id !== pendingId);
    this.changed();
  }

  typing(): void {
    if (this.active) this.#joined.get(this.active)?.typing();
  }

  close(): void {
    this.#client.close();
  }

  #received(message: Message): void {
    const view = this.#view(message.conversationId);
    view.messages.set(message.seq, message);
    if (message.senderId === this.userId) view.pending = view.pending.filter((entry) => entry.text !== message.text || entry.refusal !== undefined);
    if (view.typing?.name === message.senderName) view.typing = undefined;
    if (this.active === view.id && document.visibilityState === "visible") void this.#markRead(view);
    else view.unread++;
    this.changed();
  }

  async #markRead(view: ConversationView): Promise<void> {
    const last = Math.max(0, ...view.messages.keys());
    if (last > 0)
      await this.#joined
        .get(view.id)
        ?.markRead(last)
        .catch(() => undefined);
  }

  #view(id: string): ConversationView {
    let view = this.conversations.get(id);
    if (!view) {
      view = { id, title: titleOf(id, this.userId), messages: new Map(), pending: [], unread: 0, typing: undefined, hasOlder: false, joined: false, problem: undefined };
      this.conversations.set(id, view);
    }
    return view;
  }
}

function titleOf(id: string, me: string): string {
  const [kind, ...rest] = id.split(":");
  if (kind === "channel") return `#${rest.join(":")}`;
  if (kind === "dm") return `@${rest.find((user) => user !== me) ?? me}`;
  return `group ${rest.join(":")}`;
}
