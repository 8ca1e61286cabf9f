/**
 * What the `chat` and `inbox` rooms do alike: answer a message type they do not know, move their
 * clients to another node, refuse a request, and describe an error for a log line.
 */
import type { Client, Room } from "@colyseus/core";
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
