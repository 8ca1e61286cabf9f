/**
 * Bounds on what one user can hold or start on one node: seats (connections), distinct
 * conversations, seat reservations and room creations per minute. A node protects itself: counts
 * are local, so across N nodes a user holds at most N times each bound, and no node is exhausted.
 */
import { RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";
import { refusal, type Refusal } from "../../schema/codes.ts";

/** Which bound refused. Metric label values: bounded. */
export type UserLimitName = "connections" | "conversations" | "reservations" | "rooms";

export type UserLimitsOptions = {
  /** Seats (connections) one user may hold on a node, in all rooms together. */
  maxConnections: number;
  /** Distinct conversations (and the inbox) one user may be seated in on a node. */
  maxConversations: number;
  /** Seat reservations (joins started) per user per minute, on the node that matchmakes. */
  reservationsPerMinute: number;
  /** Rooms one user's joins may create per minute, on the node that hosts them. */
  roomsPerMinute: number;
  /** Told of every refusal, for a metric and a log line. */
  onRefused(limit: UserLimitName, userId: string): void;
};

export interface UserLimits {
  /** One more join started by `userId`: RATE_LIMITED past `reservationsPerMinute`. */
  takeReservation(userId: string): Promise<Refusal | undefined>;
  /** One more room created for `userId`'s join: RATE_LIMITED past `roomsPerMinute`. */
  takeRoomCreation(userId: string): Promise<Refusal | undefined>;
  /** Seat a client of `userId` in `conversationId`: LIMIT_EXCEEDED past either bound, else held until releaseSeat. */
  admitSeat(userId: string, conversationId: string): Refusal | undefined;
  /** The seat admitted for `userId` in `conversationId` is gone. */
  releaseSeat(userId: string, conversationId: string): void;
  /** Users holding seats on this node (memory is bounded by them). */
  readonly usersSeated: number;
}

/** Per-user bounds kept in this process. */
export function createUserLimits(options: UserLimitsOptions): UserLimits {
  const reservations = new RateLimiterMemory({ keyPrefix: "reservations", points: options.reservationsPerMinute, duration: 60 });
  const creations = new RateLimiterMemory({ keyPrefix: "rooms", points: options.roomsPerMinute, duration: 60 });
  /** userId -> conversationId -> seats held there. Entries go when they reach zero. */
  const seats = new Map<string, Map<string, number>>();

  async function take(limiter: RateLimiterMemory, limit: UserLimitName, userId: string, what: string): Promise<Refusal | undefined> {
    try {
      await limiter.consume(userId, 1);
      return undefined;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      options.onRefused(limit, userId);
      return refusal("RATE_LIMITED", `too many ${what} a minute for one user`, rejection.msBeforeNext);
    }
  }

  return {
    takeReservation: (userId) => take(reservations, "reservations", userId, "joins"),
    takeRoomCreation: (userId) => take(creations, "rooms", userId, "new conversations opened"),
    admitSeat(userId, conversationId) {
      const held = seats.get(userId) ?? new Map<string, number>();
      let total = 0;
      for (const count of held.values()) total += count;
      if (total >= options.maxConnections) {
        options.onRefused("connections", userId);
        return refusal("LIMIT_EXCEEDED", `this user already holds ${total} connections on this node (at most ${options.maxConnections}); leave one first`);
      }
      if (!held.has(conversationId) && held.size >= options.maxConversations) {
        options.onRefused("conversations", userId);
        return refusal("LIMIT_EXCEEDED", `this user is already in ${held.size} conversations on this node (at most ${options.maxConversations}); leave one first`);
      }
      held.set(conversationId, (held.get(conversationId) ?? 0) + 1);
      seats.set(userId, held);
      return undefined;
    },
    releaseSeat(userId, conversationId) {
      const held = seats.get(userId);
      const count = held?.get(conversationId);
      if (held === undefined || count === undefined) return;
      if (count > 1) held.set(conversationId, count - 1);
      else held.delete(conversationId);
      if (held.size === 0) seats.delete(userId);
    },
    get usersSeated() {
      return seats.size;
    },
  };
}
