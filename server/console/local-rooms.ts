/**
 * This node's live rooms and who sits in them, for the ops console. Colyseus keeps its room table
 * private, so the registry listens to each room type's handler events (create, join, leave,
 * dispose): no Redis read, no change to the rooms themselves.
 */
import type { Client, RegisteredHandler, Room } from "@colyseus/core";
import type { Identity } from "../../rooms/identity.ts";

/** One seated session as the console shows it. */
export type LocalSession = { sessionId: string; userId: string; name: string; connectedAt: string };

/** One room of this node. */
export type LocalRoom = { roomId: string; roomName: string; routeValue: string; clients: number };

type Tracked = { room: Room; roomName: string };

/** Registry of the rooms this process hosts. Memory: one entry per live room, one per seated client. */
export class LocalRooms {
  readonly #rooms = new Map<string, Tracked>();
  /** When each client was seated: Colyseus keeps only a room-clock offset. */
  readonly #joinedAt = new WeakMap<Client, number>();

  /** Follow the rooms of one type (call once per `defineRoom` handler). */
  watch(roomName: string, handler: RegisteredHandler): void {
    handler.on("create", (room: Room) => this.#rooms.set(room.roomId, { room, roomName }));
    handler.on("dispose", (room: Room) => this.#rooms.delete(room.roomId));
    handler.on("join", (_room: Room, client: Client) => this.#joinedAt.set(client, Date.now()));
  }

  /**
   * How many rooms and seated clients this node has, and the `limit` rooms of `roomName` with the
   * most clients, busiest first: one pass without an entry per room, because it runs every few
   * seconds on nodes holding thousands of rooms.
   */
  census(roomName: string, limit: number): { rooms: number; clients: number; busiest: LocalRoom[] } {
    let clients = 0;
    const top: Array<{ roomId: string; room: Room; clients: number }> = [];
    for (const [roomId, { room, roomName: name }] of this.#rooms) {
      const seated = room.clients.length;
      clients += seated;
      if (name !== roomName || limit <= 0 || (top.length === limit && seated <= top[limit - 1]!.clients)) continue;
      let at = top.length;
      while (at > 0 && top[at - 1]!.clients < seated) at--;
      top.splice(at, 0, { roomId, room, clients: seated });
      if (top.length > limit) top.pop();
    }
    const busiest = top.map(({ roomId, room, clients }) => ({ roomId, roomName, routeValue: routeValueOf(room), clients }));
    return { rooms: this.#rooms.size, clients, busiest };
  }

  /** The sessions seated in one room here; undefined when this node does not host it. */
  sessionsOf(roomId: string): LocalSession[] | undefined {
    const tracked = this.#rooms.get(roomId);
    return tracked?.room.clients.map((client) => this.#session(client)).filter((session): session is LocalSession => session !== undefined);
  }

  /** Every session of `userId` here, with the room each sits in. */
  sessionsOfUser(userId: string): Array<LocalSession & { roomId: string; roomName: string; routeValue: string }> {
    const found: Array<LocalSession & { roomId: string; roomName: string; routeValue: string }> = [];
    for (const [roomId, { room, roomName }] of this.#rooms) {
      for (const client of room.clients) {
        const session = this.#session(client);
        if (session?.userId === userId) found.push({ ...session, roomId, roomName, routeValue: routeValueOf(room) });
      }
    }
    return found;
  }

  #session(client: Client): LocalSession | undefined {
    const identity = (client.auth as { identity?: Identity } | undefined)?.identity;
    if (!identity) return undefined;
    const joined = this.#joinedAt.get(client);
    return { sessionId: client.sessionId, userId: identity.userId, name: identity.name, connectedAt: new Date(joined ?? Date.now()).toISOString() };
  }
}

/** A chat room's conversation id, an inbox room's user id (both are public fields of Parley's rooms). */
function routeValueOf(room: Room): string {
  const fields = room as unknown as { conversationId?: unknown; userId?: unknown };
  const value = fields.conversationId ?? fields.userId;
  return typeof value === "string" ? value : "";
}
