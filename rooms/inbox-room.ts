/**
 * Room `inbox`: one per user across the cluster (protocol v1). Every new message in that user's dm
 * and group conversations, sent by someone else, arrives as `notify`, whatever node either side is
 * on: chat rooms publish on the user's inbox channel, and this room subscribes to it. Request
 * `unread` reads the store's read cursors.
 */
import { Room, type Client, type MessageContext } from "@colyseus/core";
import { inboxRequests, refusal, RefusalError, UNREAD_LIMIT, type UnreadReply } from "../schema/index.ts";
import { inboxChannel } from "./channels.ts";
import { guardJoin, toJoinError } from "./join-guard.ts";
import type { Message } from "./history-store.ts";
import type { Identity } from "./identity.ts";
import { guardFrames } from "./plugins/frame-guard.ts";
import { frameBroadcasts } from "./plugins/fanout.ts";
import { fenceSeats } from "./plugins/seat-fence.ts";
import { seatTargetOf, type ChatRoomDeps, type RoomLog } from "./room-deps.ts";
import { errorText, moveClientsAway, refuseUnknownMessages, RESTING_PATCH_RATE_MS, WallClock } from "./room-kit.ts";
import { withTimeout } from "./timeout.ts";

type InboxClient = Client<{ auth: { identity: Identity } }>;

/** Build the `inbox` room class bound to its dependencies. */
export function createInboxRoom(deps: ChatRoomDeps) {
  const { limits, metrics } = deps;
  const timed = <T>(promise: Promise<T>) => withTimeout(promise, limits.storeTimeoutMs);
  const join = guardJoin("inbox", deps);

  class InboxRoom extends Room {
    override maxMessagesPerSecond = limits.maxFramesPerSec;
    override patchRate = RESTING_PATCH_RATE_MS;
    override clock = new WallClock();
    userId = "";
    roomLog!: RoomLog;

    /**
     * The inbox is routed by its user: the user id from the identity replaces any given option. A
     * join by room id into someone else's inbox is refused.
     */
    static override async onAuth(token: string, options: Record<string, unknown>, context?: unknown): Promise<{ identity: Identity }> {
      return join.authorize(token, options, async (identity) => {
        const target = seatTargetOf(context);
        if (target?.roomName === "inbox" && target.routeValue !== identity.userId) throw new RefusalError("FORBIDDEN", "an inbox is only its own user's");
        options.userId = identity.userId;
        return { identity };
      });
    }

    override async onCreate(options: { userId: string; createdFor?: unknown }): Promise<void> {
      if (!deps.hostsRooms) throw toJoinError(new RefusalError("UNAVAILABLE", "this node hosts no rooms; join again"));
      await join.admitCreation(options.createdFor);
      this.userId = options.userId;
      this.roomLog = deps.log.child({ roomId: this.roomId, inboxOf: this.userId });
      // Subscribed before anyone is seated, so no notify falls in between.
      await this.presence.subscribe(inboxChannel(this.userId), (message: Message) => this.broadcast("notify", message));
      this.onMessage("unread", (client: InboxClient, _payload: unknown, ctx: MessageContext) => this.#unread(client, ctx));
      refuseUnknownMessages(this, metrics);
      metrics.roomCreated("inbox");
      this.#counted = true;
    }

    override onJoin(client: InboxClient): void {
      join.admitSeat(client, `inbox:${this.userId}`);
      metrics.clientJoined("inbox");
      metrics.joinOutcome("inbox", "joined");
    }

    override onLeave(client: InboxClient, code?: number): void {
      if (join.releaseSeat(client, `inbox:${this.userId}`)) metrics.clientLeft("inbox", code);
    }

    /** Move clients away on drain, like chat rooms: they rejoin on another node. */
    override onBeforeShutdown(): void {
      void withTimeout(deps.releaseRoute(this.roomId), limits.storeTimeoutMs)
        .catch(() => undefined)
        .finally(() => {
          moveClientsAway(this, "node draining", metrics);
        });
    }

    /** Counted in the rooms gauge (onCreate completed); a failed creation never was. */
    #counted = false;

    override onDispose(): void {
      if (this.#counted) metrics.roomDisposed("inbox");
    }

    async #unread(client: InboxClient, ctx: MessageContext): Promise<unknown> {
      if (deps.requestLimit.take(client.sessionId) !== undefined) {
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

  guardFrames(InboxRoom, new Set(Object.keys(inboxRequests)), () => metrics.badFrame());
  frameBroadcasts(InboxRoom);
  // Only the inbox's own user is ever seated, whatever the join method.
  fenceSeats(
    InboxRoom,
    (room, auth) => (auth as { identity?: Identity } | undefined)?.identity?.userId === room.userId,
    (room, auth) => join.seatRefused(`inbox:${room.userId}`, auth),
  );
  return InboxRoom;
}
