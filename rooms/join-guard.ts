/**
 * Every way into a room passes here: who the user is, whether they may enter the conversation the
 * join seats them in, and the per-user bounds of this node. Refusals are typed (the matchmaking
 * error's message starts with the code), counted, and logged at warn with the user id, with the
 * logging bounded so a stranger cannot flood it.
 */
import { ServerError, type Client, type Room } from "@colyseus/core";
import { httpStatusOf, RefusalError } from "../schema/codes.ts";
import type { Identity } from "./identity.ts";
import { throttleLog } from "./plugins/log-throttle.ts";
import { inSpan } from "./spans.ts";
import type { ChatRoomDeps } from "./room-deps.ts";

/** Turn a refusal thrown during a join into the error Colyseus sends the client (HTTP status + "CODE: message"). */
export function toJoinError(error: unknown): Error {
  if (error instanceof RefusalError) {
    const { retryAfterMs } = error.refusal;
    return new ServerError(httpStatusOf[error.refusal.code], retryAfterMs === undefined ? error.message : `${error.message} (retry after ${retryAfterMs} ms)`);
  }
  return error instanceof Error ? error : new Error(String(error));
}

type SeatedClient = Client<{ auth: { identity: Identity } }>;

/** The join checks of one room type (`chat` or `inbox`). */
export function guardJoin(roomName: "chat" | "inbox", deps: Pick<ChatRoomDeps, "authenticator" | "userLimits" | "metrics" | "log">) {
  const { metrics, userLimits } = deps;
  const warn = throttleLog((context, message) => deps.log.warn({ room: roomName, ...context }, message));
  /** Clients whose seat counts against their user's bounds until they leave. */
  const admitted = new WeakSet<Client>();

  function refuse(refusal: { code: RefusalError["refusal"]["code"]; message: string; retryAfterMs?: number }): never {
    throw toJoinError(new RefusalError(refusal.code, refusal.message, refusal.retryAfterMs));
  }

  async function authorizeJoin<A>(token: string, options: Record<string, unknown> | undefined, authorize: (identity: Identity) => Promise<A>): Promise<A> {
    let identity: Identity | undefined;
    try {
      identity = await deps.authenticator.authenticate(token, options);
      const auth = await authorize(identity);
      const limited = await userLimits.takeReservation(identity.userId);
      if (limited) throw new RefusalError(limited.code, limited.message, limited.retryAfterMs);
      if (options) options.createdFor = identity.userId;
      metrics.joinOutcome(roomName, "authorized");
      return auth;
    } catch (error) {
      const code = error instanceof RefusalError ? error.refusal.code : "error";
      metrics.joinOutcome(roomName, code);
      if (code === "FORBIDDEN") warn("join_forbidden", { userId: identity?.userId, reason: (error as Error).message }, "join refused: the user may not enter that conversation");
      throw toJoinError(error);
    }
  }

  return {
    /**
     * Static onAuth: authenticate, let `authorize` decide on the conversation, then take one of the
     * user's joins a minute. Marks the options with the user, so a room created for this join
     * counts against that user's room creations.
     */
    async authorize<A>(token: string, options: Record<string, unknown> | undefined, authorize: (identity: Identity) => Promise<A>): Promise<A> {
      const conversationId = options?.conversationId;
      return inSpan(
        "parley.join",
        () => ({ "parley.room": roomName, ...(typeof conversationId === "string" && conversationId.length <= 200 && { "parley.conversation_id": conversationId }) }),
        () => authorizeJoin(token, options, authorize),
      );
    },

    /** onCreate: a room created for a user's join counts against their room creations a minute. */
    async admitCreation(createdFor: unknown): Promise<void> {
      // Rooms created without a join (a service's HTTP send) are bounded by the service's own limits.
      if (typeof createdFor !== "string") return;
      const limited = await userLimits.takeRoomCreation(createdFor);
      if (limited) {
        metrics.joinOutcome(roomName, limited.code);
        refuse(limited);
      }
    },

    /** onJoin: hold one of the user's seats on this node, or refuse the join (LIMIT_EXCEEDED). */
    admitSeat(client: SeatedClient, routeValue: string): void {
      const userId = client.auth?.identity.userId;
      // The seat fence admits only authorised seats; a seat without one is refused all the same.
      if (userId === undefined) refuse({ code: "FORBIDDEN", message: "no authorisation for this room" });
      const refusal = userLimits.admitSeat(userId, routeValue);
      if (refusal) {
        metrics.joinOutcome(roomName, refusal.code);
        refuse(refusal);
      }
      admitted.add(client);
    },

    /** onLeave: give the seat back. False when the client was never admitted (its join was refused). */
    releaseSeat(client: SeatedClient, routeValue: string): boolean {
      if (!admitted.delete(client)) return false;
      userLimits.releaseSeat(client.auth!.identity.userId, routeValue);
      return true;
    },

    /** The seat fence refused a seat whose authorisation was for another room. */
    seatRefused(routeValue: string, auth: unknown): void {
      metrics.seatRefused(roomName);
      metrics.joinOutcome(roomName, "FORBIDDEN");
      const userId = (auth as { identity?: { userId?: unknown } } | undefined)?.identity?.userId;
      warn("seat_refused", { userId, routeValue }, "seat refused: its authorisation was for another room");
    },

    /** Whether seats are reserved in the room that nobody has taken yet. */
    hasReservations(room: Room): boolean {
      return Object.keys((room as unknown as { _reservedSeats: object })._reservedSeats).length > 0;
    },
  };
}

/** How long a room nobody has been seated in stays: its creating reservation's lifetime, and a little. */
export function unusedRoomTimeoutMs(room: Room): number {
  return room.seatReservationTimeout * 1000 + 500;
}
