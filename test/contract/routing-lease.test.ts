/**
 * A node taking its lease back after it lapsed (server/cluster/routing.ts `#takeLease`), on a real
 * Redis (REDIS_URL). It keeps the routes nobody took, without claiming them one by one (at 20,000
 * rooms that was one script per room while every room of the node refused writes); it loses the one
 * another live node claimed meanwhile; and after Redis lost everything it records every route again.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { ROUTES } from "../../server/cluster/route-key.ts";
import { RoutingDriver, type RoutingEvents } from "../../server/cluster/routing.ts";
import { waitFor } from "../../deploy/wait-for.ts";

describe("routing: a node's lease lapses and comes back", function () {
  this.timeout(20_000);
  const redisUrl = process.env.REDIS_URL;
  const connections: Redis[] = [];
  const drivers: RoutingDriver[] = [];

  before(function () {
    if (!redisUrl) {
      console.log("    skipping the routing lease tests: REDIS_URL is not set (npm test provides one)");
      this.skip();
    }
  });

  afterEach(async function () {
    for (const driver of drivers.splice(0)) await driver.shutdown().catch(() => undefined);
    for (const connection of connections.splice(0)) connection.disconnect();
  });

  function connection(): Redis {
    const redis = new Redis(`${redisUrl}`);
    connections.push(redis);
    return redis;
  }

  /** A node's routing driver on its own connections, recording what it is told. */
  async function node(leaseMs: number) {
    const processId = `lease-${randomUUID().slice(0, 8)}`;
    const lost: string[] = [];
    let lapses = 0;
    const events: RoutingEvents = {
      onLeaseLost: (roomId) => void lost.push(roomId),
      onLookup() {},
      onClaimLost() {},
      onNodeLeaseLapsed: () => void lapses++,
      onRenewFailed() {},
      onRenewed() {},
    };
    const subscriber = connection();
    const driver = new RoutingDriver({ redis: connection(), processId: () => processId, leaseMs, routes: ROUTES, hostsRooms: true, listen: (channel) => subscriber.subscribe(channel), events });
    drivers.push(driver);
    await driver.boot();
    return { processId, driver, lost, lapses: () => lapses };
  }

  const listing = (roomId: string, processId: string, conversationId: string) =>
    ({ roomId, name: "chat", processId, clients: 1, maxClients: 100, locked: false, private: false, unlisted: false, metadata: { conversationId } }) as never as Parameters<RoutingDriver["insert"]>[0];

  it("keeps the routes nobody took as they were, loses the one another node claimed, and serves the rest at once", async function () {
    const redis = connection();
    const a = await node(1000);
    const conversations = Array.from({ length: 20 }, () => `channel:${randomUUID().slice(0, 8)}`);
    for (const [index, conversationId] of conversations.entries()) assert.equal(await a.driver.insert(listing(`a${index}`, a.processId, conversationId)), true);
    const routeKeys = conversations.map((conversationId) => `parley:route:chat:${conversationId}`);
    const before = await redis.mget(routeKeys);

    // A's lease lapses (as after a freeze) and node B claims one of its conversations meanwhile:
    // written in one transaction, so A's next renewal cannot come in between.
    const b = await node(60_000);
    const bEpoch = await redis.get(`parley:node:${b.processId}`);
    await redis
      .multi()
      .del(`parley:node:${a.processId}`)
      .set(routeKeys[0]!, `b0 ${b.processId} ${bEpoch}`)
      .hset("roomcaches", "b0", JSON.stringify(listing("b0", b.processId, conversations[0]!)))
      .exec();

    await waitFor(async () => a.lapses() > 0 && a.lost.length > 0 && (await redis.exists(`parley:node:${a.processId}`)) === 1, { what: "A to take its lease back", timeoutMs: 10_000 });
    assert.deepEqual(a.lost, ["a0"], "A is told it lost exactly the room B took");
    const after = await redis.mget(routeKeys);
    assert.deepEqual(after.slice(1), before.slice(1), "the other routes still name A's rooms under the same epoch, untouched");
    for (const [index, conversationId] of conversations.entries()) {
      const found = await a.driver.findOne({ name: "chat", conversationId } as never);
      assert.equal(found?.roomId, index === 0 ? "b0" : `a${index}`, `a join for ${conversationId} finds its live room`);
    }
  });

  it("records every route and listing again when Redis lost them all (FLUSHALL)", async function () {
    const redis = connection();
    const a = await node(1000);
    const conversations = Array.from({ length: 10 }, () => `channel:${randomUUID().slice(0, 8)}`);
    for (const [index, conversationId] of conversations.entries()) await a.driver.insert(listing(`f${index}-${a.processId}`, a.processId, conversationId));
    const routeKeys = conversations.map((conversationId) => `parley:route:chat:${conversationId}`);
    // What FLUSHALL would take from this node (the test leaves other tests' keys alone).
    await redis.del(`parley:node:${a.processId}`, ...routeKeys);
    await redis.hdel("roomcaches", ...conversations.map((_, index) => `f${index}-${a.processId}`));

    await waitFor(async () => a.lapses() > 0 && (await redis.exists(`parley:node:${a.processId}`, ...routeKeys)) === routeKeys.length + 1, { what: "A to record its routes again", timeoutMs: 10_000 });
    assert.deepEqual(a.lost, [], "nobody else held them: nothing lost");
    for (const [index, conversationId] of conversations.entries()) {
      assert.equal((await a.driver.findOne({ name: "chat", conversationId } as never))?.roomId, `f${index}-${a.processId}`);
    }
  });
});
