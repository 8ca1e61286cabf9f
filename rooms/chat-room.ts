/**
 * Room `chat`: the actor of one conversation (protocol v1). It orders sends through its
 * ConversationLog, delivers messages only once durable, and answers bad input with typed refusals.
 */
import { Room, type Client, type MessageContext } from "@colyseus/core";
import { authorizeConversation } from "./access.ts";
import { CloseCodes, Limits, parseChatRequest, refusal, RefusalError, type ChatRequest, type ChatRequestType, type Refusal } from "../schema/index.ts";
import { cleanText } from "./text.ts";
import { chatModeration } from "./chat-moderation.ts";
import { viewFor } from "./moderation.ts";
import { inboxChannel, membersChannel, type MembershipChange } from "./channels.ts";
import { parseConversationId, type Conversation } from "./conversation-id.ts";
import { ConversationLog } from "./conversation-log.ts";
import type { Message } from "./history-store.ts";
import type { Identity } from "./identity.ts";
import { guardFrames } from "./plugins/frame-guard.ts";
import { frameBroadcasts } from "./plugins/fanout.ts";
import { fenceSeats } from "./plugins/seat-fence.ts";
import { guardJoin, toJoinError, unusedRoomTimeoutMs } from "./join-guard.ts";
import { announceMigrate, beyondLastSeq, errorText, isRefused, moveClientsAway, refused, refuseUnknownMessages, RESTING_PATCH_RATE_MS, WallClock, type Refused } from "./room-kit.ts";
import { withTimeout } from "./timeout.ts";
import { seatTargetOf, type ChatRoomDeps, type RoomLog } from "./room-deps.ts";
import { inSpan, inSyncSpan } from "./spans.ts";

/** What onAuth hands to onJoin: who, and the one conversation this authorisation is for. */
type ChatAuth = { identity: Identity; conversationId: string };

function isChatAuth(value: unknown): value is ChatAuth {
  return typeof value === "object" && value !== null && typeof (value as ChatAuth).conversationId === "string" && typeof (value as ChatAuth).identity?.userId === "string";
}
type ChatClient = Client<{ auth: ChatAuth }>;

/** The catalogue's requests this room serves; any other request type is refused INVALID by the frame guard. */
const SERVED_REQUESTS = ["send", "history", "sync", "read", "delete", "report"] as const satisfies readonly ChatRequestType[];
type ServedRequest = (typeof SERVED_REQUESTS)[number];
/** A handed-over room closes at least this long before its node's drain must end (closing takes a moment). */
const CLOSE_BEFORE_DRAIN_ENDS_MS = 1000;
/** Each request's span name, made once. */
const spanName = Object.fromEntries(SERVED_REQUESTS.map((type) => [type, `parley.${type}`])) as Record<ServedRequest, string>;

/** A send made over HTTP by a `service` (POST /v1/conversations/:id/messages). */
export type ServiceSend = { senderId: string; senderName: string; clientMsgId: string; text: string };

/** Build the `chat` room class bound to its dependencies. */
export function createChatRoom(deps: ChatRoomDeps) {
  const { limits, metrics } = deps;
  const groupMembers = (groupId: string) => withTimeout(deps.history.members(groupId), limits.storeTimeoutMs);
  const join = guardJoin("chat", deps);
  const moderation = chatModeration(deps);

  class ChatRoom extends Room {
    override maxMessagesPerSecond = limits.maxFramesPerSec;
    override patchRate = RESTING_PATCH_RATE_MS;
    override clock = new WallClock();
    conversationId = "";
    conversation!: Conversation;
    /** Who gets `notify` for each message: a dm's two users, a group's members; none for a channel. */
    members = new Set<string>();
    log!: ConversationLog;
    roomLog!: RoomLog;

    /**
     * Authorise the conversation the join will seat the client in: for a join by room id, that
     * room's conversation (whatever the options name); otherwise the options' conversationId.
     */
    static override async onAuth(token: string, options: { conversationId?: unknown; createdFor?: unknown } | undefined, context?: unknown): Promise<ChatAuth> {
      return join.authorize(token, options, async (identity) => {
        const target = seatTargetOf(context);
        const conversation = await authorizeConversation(identity, target?.roomName === "chat" ? target.routeValue : options?.conversationId, groupMembers);
        const banned = deps.moderation.state.banRefusal(identity.userId, conversation.id, Date.now());
        if (banned) throw new RefusalError(banned.code, banned.message, banned.retryAfterMs);
        return { identity, conversationId: conversation.id };
      });
    }

    override async onCreate(options: { conversationId: string; createdFor?: unknown }): Promise<void> {
      if (!deps.hostsRooms) throw toJoinError(new RefusalError("UNAVAILABLE", "this node hosts no rooms; join again"));
      await join.admitCreation(options.createdFor);
      const conversation = parseConversationId(options.conversationId);
      if ("invalid" in conversation) throw toJoinError(new RefusalError("INVALID", conversation.invalid));
      this.conversation = conversation;
      this.conversationId = conversation.id;
      this.roomLog = deps.log.child({ roomId: this.roomId, conversationId: this.conversationId });
      this.log = new ConversationLog({
        conversationId: this.conversationId,
        store: deps.history,
        append: deps.append,
        maxPending: limits.maxPendingSendsPerRoom,
        storeTimeoutMs: limits.storeTimeoutMs,
        onDurable: (messages) => this.#deliver(messages),
        onFenced: () => this.#moveAway("another room took over this conversation"),
        onWriteFailed: (error) => {
          metrics.storeWriteFailed();
          this.roomLog.warn({ err: errorText(error) }, "history store write failed");
        },
      });
      try {
        const [handover, epoch] = await Promise.all([deps.takeHandover(this.conversationId).catch(() => undefined), withTimeout(deps.history.epoch(this.conversationId), limits.storeTimeoutMs)]);
        // A note from before a restore counts seqs the store no longer has: ask the store instead.
        const stale = handover?.epoch !== undefined && handover.epoch !== epoch;
        if (stale)
          this.roomLog.warn({ noteEpoch: handover.epoch, epoch, noteLastSeq: handover.lastSeq }, "hand-over note from another history epoch (a restore since?): the last seq comes from the store");
        await this.log.start(stale ? undefined : handover?.lastSeq);
        this.epoch = epoch;
        await this.#loadMembers();
      } catch (error) {
        this.roomLog.warn({ err: errorText(error) }, "cannot restore conversation from the history store");
        throw toJoinError(new RefusalError("UNAVAILABLE", "the history store cannot be reached; join again later"));
      }

      const handlers: { [T in ServedRequest]: (client: ChatClient, request: ChatRequest<T>) => Promise<unknown> } = {
        send: (client, request) => this.#send(client, request),
        history: async (client, request) => moderation.viewPage(await this.#history(request), client.auth!.identity.userId),
        sync: async (client, request) => {
          this.#countRejoin(client, request.afterSeq);
          return moderation.viewPage(await this.#sync(request), client.auth!.identity.userId);
        },
        read: (client, request) => this.#read(client, request),
        delete: (client, { seq }) => moderation.deleteMessage(this, client.auth!.identity, seq),
        report: (client, { seq, reason }) => moderation.reportMessage(this, client.auth!.identity, seq, reason),
      };
      for (const type of SERVED_REQUESTS) this.#serve(type, handlers[type] as (client: ChatClient, request: ChatRequest<typeof type>) => Promise<unknown>);
      this.onMessage("typing", (client: ChatClient) => this.#typing(client));
      refuseUnknownMessages(this, metrics);
      this.#stopModeration = deps.moderation.onChange((change) => moderation.changed(this, change));

      // Stay a while after the last client leaves: a reconnecting client finds its messages in
      // memory instead of making the next join rebuild the room from the store.
      // A room nobody takes a seat in goes when the reservation that created it expires.
      this.autoDispose = false;
      this.#idleSince(unusedRoomTimeoutMs(this));

      metrics.roomCreated("chat");
      this.#counted = true;
      this.roomLog.info({ lastSeq: this.log.lastSeq }, "conversation room created");
    }

    override onJoin(client: ChatClient): void {
      join.admitSeat(client, this.conversationId);
      // Before any message: where the conversation stands, and which history its seqs belong to.
      client.send("welcome", { conversationId: this.conversationId, lastSeq: this.log.lastSeq, epoch: this.epoch });
      clearTimeout(this.#idleTimer);
      this.#everSeated = true;
      metrics.clientJoined("chat");
      metrics.joinOutcome("chat", "joined");
      this.roomLog.debug({ userId: client.auth?.identity.userId }, "client joined");
    }

    override onLeave(client: ChatClient, code?: number): void {
      if (!join.releaseSeat(client, this.conversationId)) return;
      if (this.clients.length === 0 && this.#handedOff) void this.disconnect().catch(() => undefined);
      else if (this.clients.length === 0) this.#idleSince(limits.roomIdleMs);
      metrics.clientLeft("chat", code);
      this.roomLog.debug({ userId: client.auth?.identity.userId }, "client left");
    }

    /**
     * Drain, make before break: when this room's turn comes (paced across the node's rooms), take
     * no new sends (UNAVAILABLE: resend on the new room), finish the accepted ones, give the
     * conversation's route up with its last seq, and have another node open the conversation's
     * room; only then tell the clients `migrate`, so their join lands on a live room at once. The
     * old connections stay until each client leaves (the kit joins the new room first) or for
     * `handOffLingerMs`. Where no other node can take it, the clients are moved the old way.
     */
    override onBeforeShutdown(): void {
      void deps
        .paceHandOff(() => this.#handOff())
        .catch((error) => {
          this.roomLog?.warn({ err: errorText(error) }, "hand-off failed; moving the clients away");
          this.#moveAway("node draining");
        });
    }

    async #handOff(): Promise<void> {
      // Sends are refused from here until migrate: the pause is measured, and each phase goes to the log line.
      const closedAt = performance.now();
      const paused = () => metrics.handOffPause((performance.now() - closedAt) / 1000);
      this.log?.close();
      await (this.log?.settled() ?? Promise.resolve());
      const settledAt = performance.now();
      const lastSeq = this.log?.settledLastSeq;
      const note = lastSeq === undefined ? undefined : { conversationId: this.conversationId, lastSeq, epoch: this.epoch };
      // The note goes where the next room looks first: to Redis when nobody is seated (whoever
      // opens the conversation next takes it), else with the call to the node that opens it now.
      const nobodyToMove = () => this.clients.length === 0 && !join.hasReservations(this);
      const noteInRedis = nobodyToMove();
      try {
        await withTimeout(deps.releaseRoute(this.roomId, noteInRedis ? note : undefined), limits.storeTimeoutMs);
      } catch (error) {
        this.roomLog?.warn({ err: errorText(error) }, "cannot release the conversation's route; it lapses with the lease");
        paused();
        return this.#moveAway("node draining");
      }
      const releasedAt = performance.now();
      // Nobody seated, no seat pending (a room kept for ROOM_IDLE_MS): nothing to move. The next
      // join opens the conversation anywhere and starts from the note just left.
      if (nobodyToMove()) {
        metrics.handOff("empty");
        this.roomLog.info({ lastSeq }, "conversation released on drain with nobody seated; the next join opens it elsewhere");
        return void this.disconnect().catch(() => undefined);
      }
      // A seat in the replacement for each client, held with the authorisation it joined with: its
      // migrate carries it, and the rejoin skips matchmaking (protocol 1.2).
      const seated = [...this.clients] as ChatClient[];
      const opened =
        this.conversationId === ""
          ? undefined
          : await deps
              .openReplacement(
                this.conversationId,
                seated.map((client) => client.auth),
                noteInRedis ? undefined : note,
              )
              .catch((error) => {
                this.roomLog.warn({ err: errorText(error) }, "no node opened the conversation's room; moving the clients the old way");
                return undefined;
              });
      paused();
      if (!opened) return this.#moveAway("node draining");
      const phases = { settleMs: Math.round(settledAt - closedAt), releaseMs: Math.round(releasedAt - settledAt), openMs: Math.round(performance.now() - releasedAt) };
      this.#handedOff = true;
      const seats = new Map(seated.map((client, i) => [client, opened.seats[i]]));
      this.roomLog.info(
        { clients: this.clients.length, seats: opened.seats.filter(Boolean).length, lastSeq, ...phases },
        "conversation handed over to a live room on another node; clients told to migrate",
      );
      announceMigrate(this, "node draining", metrics, 0, (client) => seats.get(client as ChatClient));
      if (this.clients.length === 0) return void this.disconnect().catch(() => undefined);
      // The old connections stay for clients that do not move by themselves, but the room closes
      // before the drain's deadline, so a slow drain still ends with every room closed (exit 0).
      const lingerMs = Math.max(0, Math.min(limits.handOffLingerMs, deps.drainTimeLeftMs() - CLOSE_BEFORE_DRAIN_ENDS_MS));
      setTimeout(() => void this.disconnect().catch(() => undefined), lingerMs).unref();
    }

    /** Handed over (make before break): the room only waits for its clients to leave. */
    #handedOff = false;
    #idleTimer: NodeJS.Timeout | undefined;
    #everSeated = false;
    /** Counted in the rooms gauge (onCreate completed). */
    #counted = false;
    #stopModeration: (() => void) | undefined;
    /** The history epoch `welcome` names. */
    epoch = "1";
    /** When each user's last send was accepted here (slow mode); cleared when the room goes. */
    readonly lastSendAt = new Map<string, number>();

    /** Dispose after `delayMs` with nobody in the room and no seat reserved (unless someone joins first). */
    #idleSince(delayMs: number): void {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => {
        if (this.clients.length > 0) return;
        if (join.hasReservations(this)) return this.#idleSince(this.#everSeated ? limits.roomIdleMs : unusedRoomTimeoutMs(this));
        void this.disconnect().catch(() => undefined);
      }, delayMs);
    }

    override async onDispose(): Promise<void> {
      clearTimeout(this.#idleTimer);
      this.#stopModeration?.();
      // Sends already accepted still become durable, even when nobody is left to hear the ack.
      await this.log?.settled();
      // A room whose creation failed (refused, store down) or was discarded never counted itself.
      if (this.#counted) metrics.roomDisposed("chat");
      this.roomLog?.info({ lastSeq: this.log?.lastSeq }, "conversation room disposed");
    }

    /**
     * A send over HTTP from a `service`, routed here by remoteRoomCall from any node. Answers like
     * the `send` request: `{ seq, sentAt, duplicate }` or `{ refusal }`.
     */
    async serviceSend(send: ServiceSend): Promise<unknown> {
      const accepted = acceptText(send.text);
      if (typeof accepted !== "string") return accepted;
      const filtered = moderation.filterText(accepted);
      if (isRefused(filtered)) return filtered;
      const outcome = await this.log.submit({ senderId: send.senderId, senderName: send.senderName, text: filtered.text, clientMsgId: send.clientMsgId, ...filtered.marks });
      if (!outcome.ok) return { refusal: outcome.refusal };
      if (!outcome.reply.duplicate) metrics.messageAccepted();
      return outcome.reply;
    }

    /** The node found another room holding this conversation's lease: stop writing and move away. */
    leaseLost(): void {
      this.roomLog.warn({}, "lease on the conversation lost to another room");
      this.log.relinquish();
    }

    /** Who gets `notify`: the dm's two users, or the group's members (kept current by membership changes). */
    async #loadMembers(): Promise<void> {
      const { conversation } = this;
      if (conversation.kind === "dm") {
        this.members = new Set(conversation.members);
        // So the inbox's `unread` finds this dm. Best effort: the dm works without it.
        void withTimeout(deps.history.recordConversation(conversation.id, "dm", conversation.members), limits.storeTimeoutMs).catch((error) => {
          metrics.storeWriteFailed();
          this.roomLog.warn({ err: errorText(error) }, "cannot record the dm for unread");
        });
      } else if (conversation.kind === "group") {
        await this.presence.subscribe(membersChannel(conversation.id), (change: MembershipChange) => this.#membershipChanged(change));
        this.members = new Set(await groupMembers(conversation.id));
      }
    }

    #membershipChanged({ userId, member }: MembershipChange): void {
      if (member) return void this.members.add(userId);
      this.members.delete(userId);
      for (const client of this.clients as unknown as ChatClient[]) {
        if (client.auth?.identity.userId !== userId) continue;
        client.send("error", { code: "FORBIDDEN", message: "removed from this group" });
        client.leave(CloseCodes.REMOVED.code);
      }
      this.roomLog.info({ userId }, "member removed from the group; their clients left");
    }

    /**
     * Serve one request type through the one guard path: time it, rate-limit it (sends also per
     * user), parse its payload with the catalogue's schema, run the handler, and turn a Refusal into
     * ctx.reject. A request sent as a plain message (an SDK without `room.request`) has no reply
     * to reject: its refusal comes back as an `error` message naming the request and clientMsgId.
     */
    #serve<T extends ServedRequest>(type: T, handler: (client: ChatClient, request: ChatRequest<T>) => Promise<unknown>): void {
      this.onMessage(type, (client: ChatClient, payload: unknown, ctx: MessageContext) =>
        this.#timed(type, ctx.id === undefined ? rejectAsErrorMessage(client, type, payload) : ctx, () =>
          inSpan(
            spanName[type],
            () => requestAttributes(this.conversationId, client, payload),
            async () => {
              const limited = this.#limit(client, type === "send");
              if (limited) return limited;
              const parsed = parseChatRequest(type, payload);
              if (!parsed.ok) return refused("INVALID", parsed.message);
              return handler(client, parsed.value);
            },
            (result) => (isRefused(result) ? result.refusal.code : undefined),
          ),
        ),
      );
    }

    /** Seats that made their first sync already (the rejoin count looks at the first one only). */
    readonly #synced = new WeakSet<ChatClient>();

    #countRejoin(client: ChatClient, afterSeq: number): void {
      if (this.#synced.has(client)) return;
      this.#synced.add(client);
      if (afterSeq > 0) metrics.rejoined("chat");
    }

    /** Run a request handler: time it, and turn a Refusal into ctx.reject. */
    async #timed(type: ChatRequestType, ctx: Pick<MessageContext, "reject">, handler: () => Promise<unknown>): Promise<unknown> {
      const started = performance.now();
      try {
        const result = await handler();
        if (isRefused(result)) {
          metrics.requestRefused(type, result.refusal.code);
          return ctx.reject(result.refusal);
        }
        return result;
      } catch (error) {
        this.roomLog.error({ err: errorText(error), request: type }, "request failed");
        metrics.requestRefused(type, "UNAVAILABLE");
        return ctx.reject(refusal("UNAVAILABLE", "the request could not be served now; try again"));
      } finally {
        metrics.requestLatency(type, (performance.now() - started) / 1000);
      }
    }

    #limit(client: ChatClient, send: boolean): Refused | undefined {
      const waitMs = deps.requestLimit.take(client.sessionId);
      if (waitMs !== undefined) return refused("RATE_LIMITED", "too many requests", waitMs);
      if (!send) return undefined;
      const sendWaitMs = deps.sendLimit.take(client.auth!.identity.userId);
      if (sendWaitMs !== undefined) return refused("RATE_LIMITED", "too many messages", sendWaitMs);
      return undefined;
    }

    async #send(client: ChatClient, request: ChatRequest<"send">) {
      const accepted = acceptText(request.text);
      if (typeof accepted !== "string") return accepted;
      const identity = client.auth!.identity;
      const checked = moderation.checkSend(this, identity, accepted, this.lastSendAt);
      if ("refusal" in checked) return checked;

      metrics.pendingSends(1);
      const outcome = await this.log.submit({ senderId: identity.userId, senderName: identity.name, text: checked.text, clientMsgId: request.clientMsgId, ...checked.marks });
      metrics.pendingSends(-1);
      // Kept only while slow mode is on here, so the map does not grow with every sender of a busy channel.
      if (outcome.ok && !outcome.reply.duplicate && deps.moderation.state.slowModeMs(this.conversationId) > 0) this.lastSendAt.set(identity.userId, Date.now());
      if (!outcome.ok) return { refusal: outcome.refusal };
      if (!outcome.reply.duplicate) metrics.messageAccepted();
      return outcome.reply;
    }

    async #history({ beforeSeq, limit = Limits.historyDefault }: ChatRequest<"history">) {
      return this.log.readBefore(beforeSeq, limit) ?? withTimeout(deps.history.listBefore(this.conversationId, beforeSeq, limit), limits.storeTimeoutMs);
    }

    async #sync({ afterSeq, limit = Limits.syncMax }: ChatRequest<"sync">) {
      return this.log.readAfter(afterSeq, limit) ?? withTimeout(deps.history.listAfter(this.conversationId, afterSeq, limit), limits.storeTimeoutMs);
    }

    async #read(client: ChatClient, { seq }: ChatRequest<"read">) {
      const beyond = beyondLastSeq(seq, this.log.lastSeq);
      if (beyond) return beyond;
      const userId = client.auth!.identity.userId;
      const cursor = await withTimeout(deps.history.advanceReadCursor(this.conversationId, userId, seq), limits.storeTimeoutMs);
      this.broadcast("read", { userId, seq: cursor }, { except: client });
      return {};
    }

    #typing(client: ChatClient): void {
      if (deps.requestLimit.take(client.sessionId) !== undefined) {
        metrics.requestRefused("typing", "RATE_LIMITED");
        return;
      }
      const { userId, name } = client.auth!.identity;
      if (!deps.moderation.state.mayType(userId, this.conversationId, Date.now())) return;
      this.broadcast("typing", { userId, name }, { except: client });
    }

    #deliver(messages: readonly Message[]): void {
      inSyncSpan(
        "parley.fanout",
        () => ({ "parley.conversation_id": this.conversationId, "parley.messages": messages.length, "parley.recipients": this.clients.length }),
        () => {
          for (const message of messages) moderation.deliver(this, message);
        },
      );
      metrics.fanout(this.clients.length * messages.length);
      if (this.members.size === 0) return;
      let notified = 0;
      for (const message of messages) {
        for (const member of this.members) {
          if (member === message.senderId) continue;
          // Redis down: the message is durable and delivered in the room; only the notify is lost (at most once).
          void Promise.resolve(this.presence.publish(inboxChannel(member), viewFor(message, member))).catch(() => metrics.notifyFailed());
          notified++;
        }
      }
      metrics.notifiesPublished(notified);
    }

    /** Tell every client to join again elsewhere, then close their connections. */
    #moveAway(reason: string): void {
      this.roomLog.warn({ reason }, "conversation room moving its clients away");
      moveClientsAway(this, reason, metrics);
    }
  }

  /** A request span's attributes: the conversation, the user, and a send's clientMsgId. */
  function requestAttributes(conversationId: string, client: ChatClient, payload: unknown): Record<string, string> {
    const clientMsgId = (payload as { clientMsgId?: unknown } | undefined)?.clientMsgId;
    return {
      "parley.conversation_id": conversationId,
      "parley.user_id": client.auth?.identity.userId ?? "",
      ...(typeof clientMsgId === "string" && clientMsgId.length <= 64 && { "parley.client_msg_id": clientMsgId }),
    };
  }

  /** The text others will see, or the refusal: empty or invisible-only is INVALID, too long is TOO_LONG. */
  function acceptText(raw: string): string | Refused {
    const clean = cleanText(raw);
    if (clean.bidiRemoved > 0) metrics.bidiControlsRemoved(clean.bidiRemoved);
    if (clean.invisible) return refused("INVALID", "text is empty (or shows nothing)");
    if (clean.length > limits.maxTextChars) return refused("TOO_LONG", `text is ${clean.length} characters; at most ${limits.maxTextChars}`);
    return clean.text;
  }

  guardFrames(ChatRoom, new Set(SERVED_REQUESTS), () => metrics.badFrame());
  frameBroadcasts(ChatRoom);
  fenceSeats(
    ChatRoom,
    (room, auth) => isChatAuth(auth) && auth.conversationId === room.conversationId,
    (room, auth) => join.seatRefused(room.conversationId, auth),
  );
  return ChatRoom;
}

/** The reply path of a request sent as a plain message: an `error` message to its sender. */
function rejectAsErrorMessage(client: Client, request: ChatRequestType, payload: unknown): Pick<MessageContext, "reject"> {
  const clientMsgId = (payload as { clientMsgId?: unknown } | undefined)?.clientMsgId;
  const reject = (reason?: unknown) => {
    client.send("error", { ...(reason as Refusal), request, ...(typeof clientMsgId === "string" && clientMsgId.length <= 64 ? { clientMsgId } : {}) });
    return undefined;
  };
  return { reject: reject as unknown as MessageContext["reject"] };
}
