/**
 * What the `chat` and `inbox` rooms do alike: answer a message type they do not know, move their
 * clients to another node, and describe an error for a log line.
 */
import type { Client, Room } from "@colyseus/core";
import type { RoomMetrics } from "./room-deps.ts";

/** Answer any message type without a handler with an `error` INVALID, keeping the connection. */
export function refuseUnknownMessages(room: Room, metrics: RoomMetrics): void {
  room.onMessage("*", (client: Client, type: string | number) => {
    metrics.requestRefused("unknown", "INVALID");
    client.send("error", { code: "INVALID", message: `unknown message type "${String(type).slice(0, 64)}"` });
  });
}

/** Tell every client to join again elsewhere (`migrate`), then close their connections. */
export function moveClientsAway(room: Room, reason: string): void {
  room.broadcast("migrate", { reason });
  // Answers to requests this move cancelled are still on their way through the request handlers'
  // microtasks; close after them so every request gets its answer.
  setImmediate(() => void room.disconnect().catch(() => undefined));
}

export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
