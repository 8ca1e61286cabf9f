/**
 * Room `inbox`: one per user across the cluster (protocol v1). Every new message in that user's dm
 * and group conversations, sent by someone else, arrives as `notify`, whatever node either side is
 * on: chat rooms publish on the user's inbox channel, and this room subscribes to it. Request
 * `unread` reads the store's read cursors.
 */
import { Room, type Client, type MessageContext } from "@colyseus/core";
import { refusal, RefusalError } from "./chat-errors.ts";
import { inboxChannel } from "./channels.ts";
import { toJoinError } from "./chat-room.ts";
import type { Message } from "./history-store.ts";
import type { Identity } from "./identity.ts";
import { guardFrames } from "./plugins/frame-guard.ts";
import type { ChatRoomDeps, RoomLog } from "./room-deps.ts";
import { errorText, moveClientsAway, refuseUnknownMessages } from "./room-kit.ts";
import { withTimeout } from "./timeout.ts";

type InboxClient = Client<{ auth: { identity: Identity } }>;

/** How many conversations `unread` reports at most. */
export const UNREAD_LIMIT = 200;

export type UnreadReply = { conversations: Array<{ conversationId: string; lastSeq: number; lastReadSeq: number }> };

/** Build the `inbox` room class bound to its dependencies. */
export function createInboxRoom(deps: ChatRoomDeps) {
  const { limits, metrics } = deps;
  const timed = <T>(promise: Promise<T>) => withTimeout(promise, limits.storeTimeoutMs);

  class InboxRoom extends Room {
    override maxMessagesPerSecond = limits.maxFramesPerSec;
    userId = "";
    roomLog!: RoomLog;

    /** The inbox is routed by its user: the user id from the identity replaces any given option. */
    static override async onAuth(token: string, options: Record<string, unknown>): Promise<{ identity: Identity }> {
      try {
        const identity = await deps.authenticator.authenticate(token, options);
        options.userId = identity.userId;
        metrics.joinOutcome("inbox", "authorized");
        return { identity };
      } catch (error) {
        metrics.joinOutcome("inbox", error instanceof RefusalError ? error.refusal.code : "error");
        throw toJoinError(error);
      }
    }

    override async onCreate(options: { userId: string }): Promise<void> {
      if (!deps.hostsRooms) throw toJoinError(new RefusalError("UNAVAILABLE", "this node hosts no rooms; join again"));
      this.userId = options.userId;
      this.roomLog = deps.log.child({ roomId: this.roomId, inboxOf: this.userId });
      // Subscribed before anyone is seated, so no notify falls in between.
      await this.presence.subscribe(inboxChannel(this.userId), (message: Message) => this.broadcast("notify", message));
      this.onMessage("unread", (client: InboxClient, _payload: unknown, ctx: MessageContext) => this.#unread(client, ctx));
      refuseUnknownMessages(this, metrics);
      metrics.roomCreated("inbox");
    }

    override onJoin(client: InboxClient): void {
      // In JWT mode the user id comes from the token; a join routed by another user's id is refused.
      if (client.auth?.identity.userId !== this.userId) return void client.leave(4403);
      metrics.clientJoined("inbox");
      metrics.joinOutcome("inbox", "joined");
    }

    override onLeave(): void {
      metrics.clientLeft("inbox");
    }

    /** Move clients away on drain, like chat rooms: they rejoin on another node. */
    override onBeforeShutdown(): void {
      void withTimeout(deps.releaseRoute(this.roomId), limits.storeTimeoutMs)
        .catch(() => undefined)
        .finally(() => moveClientsAway(this, "node draining"));
    }

    override onDispose(): void {
      metrics.roomDisposed("inbox");
    }

    async #unread(client: InboxClient, ctx: MessageContext): Promise<unknown> {
      if ((await deps.requestLimit.take(client.sessionId)) !== undefined) {
        metrics.requestRefused("unread", "RATE_LIMITED");
        return ctx.reject(refusal("RATE_LIMITED", "too many requests", 1000));
      }
      try {
        const ids = await timed(deps.history.conversationsOf(this.userId, UNREAD_LIMIT));
        const conversations = await Promise.all(
          ids.map(async (conversationId) => {
            const [lastSeq, lastReadSeq] = await Promise.all([timed(deps.history.lastSeq(conversationId)), timed(deps.history.readCursor(conversationId, this.userId))]);
            return { conversationId, lastSeq, lastReadSeq };
          }),
        );
        return { conversations } satisfies UnreadReply;
      } catch (error) {
        metrics.requestRefused("unread", "UNAVAILABLE");
        this.roomLog.warn({ err: errorText(error) }, "unread: history store did not answer");
        return ctx.reject(refusal("UNAVAILABLE", "the history store cannot answer now; try again"));
      }
    }
  }

  guardFrames(InboxRoom, new Set(["unread"]), () => metrics.badFrame());
  return InboxRoom;
}
