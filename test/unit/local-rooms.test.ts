/**
 * The console's count of a node's rooms (server/console/local-rooms.ts): rooms and connections,
 * and the busiest conversations, from the room handlers' events.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { RegisteredHandler, Room } from "@colyseus/core";
import { LocalRooms } from "../../server/console/local-rooms.ts";

function roomOf(roomId: string, routeValue: string, clients: number, field: "conversationId" | "userId" = "conversationId"): Room {
  return { roomId, [field]: routeValue, clients: Array.from({ length: clients }, () => ({})) } as unknown as Room;
}

describe("LocalRooms census", function () {
  it("counts every room and seated client, and lists the busiest rooms of one type, busiest first, the earlier first on a tie", function () {
    const registry = new LocalRooms();
    const chat = new EventEmitter();
    const inbox = new EventEmitter();
    registry.watch("chat", chat as unknown as RegisteredHandler);
    registry.watch("inbox", inbox as unknown as RegisteredHandler);
    const seats = [3, 0, 7, 3, 1, 7, 2];
    seats.forEach((clients, i) => chat.emit("create", roomOf(`r${i}`, `channel:c${i}`, clients)));
    inbox.emit("create", roomOf("i0", "u0", 9, "userId"));
    chat.emit("create", roomOf("gone", "channel:gone", 50));
    chat.emit("dispose", roomOf("gone", "channel:gone", 50));

    const census = registry.census("chat", 4);
    assert.equal(census.rooms, 8);
    assert.equal(census.clients, 23 + 9);
    assert.deepEqual(
      census.busiest.map(({ routeValue, clients }) => [routeValue, clients]),
      [
        ["channel:c2", 7],
        ["channel:c5", 7],
        ["channel:c0", 3],
        ["channel:c3", 3],
      ],
    );
    assert.deepEqual(registry.census("chat", 0).busiest, []);
    assert.equal(registry.census("chat", 100).busiest.length, 7);
  });
});
