import assert from "node:assert/strict";
import type { IRoomCache } from "@colyseus/core";
import { LocalRoutingDriver } from "../../server/cluster/local-routing.ts";
import { ROUTES } from "../../server/cluster/route-key.ts";

function listing(roomId: string, conversationId: string): IRoomCache {
  return { name: "chat", roomId, processId: "p", clients: 0, maxClients: Infinity, metadata: { conversationId } } as unknown as IRoomCache;
}

describe("single-node routing driver", function () {
  it("records one room per conversation and sends the loser's join to the winner", async function () {
    let lost = 0;
    const driver = new LocalRoutingDriver(ROUTES, () => lost++);
    assert.equal(await driver.insert(listing("r1", "channel:a")), true);
    assert.equal(await driver.insert(listing("r2", "channel:a")), false, "a second room for the conversation is refused");
    assert.equal(lost, 1);
    assert.equal((await driver.findOne({ roomId: "r2" }))?.roomId, "r1", "the discarded room's lookup finds the winner");
    assert.equal(await driver.insert(listing("r3", "channel:b")), true, "other conversations are independent");
  });

  it("frees the conversation when its room is removed", async function () {
    const driver = new LocalRoutingDriver(ROUTES, () => undefined);
    await driver.insert(listing("r1", "channel:a"));
    driver.remove("r1");
    assert.equal(await driver.insert(listing("r2", "channel:a")), true);
  });
});
