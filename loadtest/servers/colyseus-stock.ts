/**
 * The stock Colyseus 0.18 peer: one `broadcast` room per conversation (filterBy conversationId) that
 * relays each `send` to every client in the room with `broadcast`, on the same ws transport settings
 * as Parley. No identity, ordering, acks, limits or history. Listens on PORT.
 */
import { defineRoom, defineServer, Room, type Client } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";

class BroadcastRoom extends Room {
  override maxMessagesPerSecond = 100_000;
  override onCreate(): void {
    this.onMessage("send", (_client: Client, payload: unknown) => this.broadcast("message", payload));
  }
}

const server = defineServer({
  rooms: { broadcast: defineRoom(BroadcastRoom).filterBy(["conversationId"]) },
  transport: new WebSocketTransport({ pingInterval: 5000, pingMaxRetries: 3, maxPayload: 64 * 1024 }),
  greet: false,
});
await server.listen(Number(process.env.PORT ?? 2567));
console.log(`colyseus stock peer listening on ${process.env.PORT}`);
