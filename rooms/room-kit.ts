/**
 * What the `chat` and `inbox` rooms do alike: answer a message type they do not know, move their
 * clients to another node, refuse a request, describe an error for a log line, and rest between
 * messages (no patch tick).
 */
import { Clock, type Client, type Room } from "@colyseus/core";
import { refusal, type Refusal } from "../schema/codes.ts";
import type { RoomMetrics } from "./room-deps.ts";
import type { HandOffSeat } from "../schema/chat.ts";

/** What a request handler returns to refuse: the catalogue's refusal, answered as a rejection. */
export type Refused = { refusal: Refusal };

/** A refusal for a request handler to return. */
export function refused(code: Refusal["code"], message: string, retryAfterMs?: number): Refused {
  return { refusal: refusal(code, message, retryAfterMs) };
}

/** True for a handler's refusal. */
export function isRefused(value: unknown): value is Refused {
  return typeof value === "object" && value !== null && "refusal" in value;
}

/** INVALID for a seq beyond the last stored message of the room, else undefined. */
export function beyondLastSeq(seq: number, lastSeq: number): Refused | undefined {
  return seq > lastSeq ? refused("INVALID", `seq ${seq} is beyond the last message (${lastSeq})`) : undefined;
}

/** Answer any message type without a handler with an `error` INVALID, keeping the connection. */
export function refuseUnknownMessages(room: Room, metrics: RoomMetrics): void {
  room.onMessage("*", (client: Client, type: string | number) => {
    metrics.requestRefused("unknown", "INVALID");
    client.send("error", { code: "INVALID", message: `unknown message type "${String(type).slice(0, 64)}"` });
  });
}

/**
 * Tell every client to join again elsewhere (`migrate`, counted). `retryAfterMs` (protocol 1.1) when
 * the new room is already live (make before break); `seatOf` gives each client the seat held for it
 * there, if any (protocol 1.2).
 */
export function announceMigrate(room: Room, reason: string, metrics: RoomMetrics, retryAfterMs?: number, seatOf?: (client: Client) => HandOffSeat | undefined): void {
  const payload = retryAfterMs === undefined ? { reason } : { reason, retryAfterMs };
  if (seatOf === undefined) room.broadcast("migrate", payload);
  else
    for (const client of room.clients) {
      const seat = seatOf(client);
      client.send("migrate", seat === undefined ? payload : { ...payload, seat });
    }
  metrics.migrateSent(room.roomName);
}

/** Tell every client to join again elsewhere (`migrate`, counted), then close their connections. */
export function moveClientsAway(room: Room, reason: string, metrics: RoomMetrics): void {
  announceMigrate(room, reason, metrics);
  // Answers to requests this move cancelled are still on their way through the request handlers'
  // microtasks; close after them so every request gets its answer.
  setImmediate(() => void room.disconnect().catch(() => undefined));
}

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * The rooms' patch interval. Colyseus patches a room's state every 50 ms by default, one timer per
 * room; our rooms have no state, so the tick only ran the room's clock: 20 timer callbacks a second
 * per room, 53 ms of CPU a second per 1,000 idle rooms (bench:memory), a core at 20,000.
 * A minute keeps the interval (Colyseus installs a 16 ms clock tick when there is none).
 */
export const RESTING_PATCH_RATE_MS = 60_000;

/**
 * A room clock that reads the time when asked rather than when ticked, for rooms that tick once a
 * minute. Colyseus reads `clock.currentTime` for its per-client frame limit (a one-second window)
 * and `elapsedTime` for the monitor; ticked once a minute, both would stand still. Its delayed calls
 * (`clock.setTimeout`, `setInterval`) would fire only on a tick, so they refuse: rooms use the
 * process's timers. Written here because the clock's class is Colyseus's and only the two fields change.
 */
export class WallClock extends Clock {
  constructor() {
    super(false);
    let startedAt = Date.now();
    Object.defineProperties(this, {
      currentTime: { get: () => Date.now(), set: () => {}, configurable: true, enumerable: true },
      elapsedTime: { get: () => Date.now() - startedAt, set: (elapsed: number) => void (startedAt = Date.now() - elapsed), configurable: true, enumerable: true },
    });
  }

  override setTimeout(): never {
    throw new Error("a resting room's clock has no delayed calls: use setTimeout");
  }

  override setInterval(): never {
    throw new Error("a resting room's clock has no delayed calls: use setInterval");
  }
}
