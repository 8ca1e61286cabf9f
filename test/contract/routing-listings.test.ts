/**
 * A routed room's listing on a real Redis (REDIS_URL), as server/cluster/routing.ts writes it: a
 * burst of joins and leaves (a hand-off seats hundreds of clients at once) reaches the listing in
 * one write, a change that matters to matchmaking (the room locking) at once, and a room that went
 * never comes back as a listing.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { ROUTES } from "../../server/cluster/route-key.ts";
import { LISTING_WRITE_DELAY_MS, RoutingDriver } from "../../server/cluster/routing.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { readCounters } from "../../loadtest/cluster-redis-window.ts";

describe("routing: a routed room's listing", function () {
  this.timeout(20_000);
  const redisUrl = process.env.REDIS_URL;
  const connections: Redis[] = [];
  let driver: RoutingDriver | undefined;

  before(function () {
    if (!redisUrl) {
      console.log("    skipping the routing listing tests: REDIS_URL is not set (npm test provides one)");
      this.skip();
    }
  });

  afterEach(async function () {
    await driver?.shutdown().catch(() => undefined);
    for (const connection of connections.splice(0)) connection.disconnect();
  });

  function connection(): Redis {
    const redis = new Redis(`${redisUrl}`);
    connections.push(redis);
    return redis;
  }

  /** A node's driver with one routed room in it; `listing` is the object Colyseus keeps current. */
  async function aNode(listingWriteDelayMs = LISTING_WRITE_DELAY_MS) {
    const processId = `listings-${randomUUID().slice(0, 8)}`;
    const subscriber = connection();
    const events = { onLeaseLost() {}, onLookup() {}, onClaimLost() {}, onNodeLeaseLapsed() {}, onRenewFailed() {}, onRenewed() {} };
    driver = new RoutingDriver({
      redis: connection(),
      processId: () => processId,
      leaseMs: 60_000,
      routes: ROUTES,
      hostsRooms: true,
      listen: (channel) => subscriber.subscribe(channel),
      events,
      listingWriteDelayMs,
    });
    await driver.boot();
    return { driver, processId };
  }

  /** A routed room on the node; `listing` is the object Colyseus keeps current. */
  async function roomOn({ driver, processId }: Awaited<ReturnType<typeof aNode>>) {
    const roomId = `r${randomUUID().slice(0, 8)}`;
    const listing = {
      roomId,
      name: "chat",
      processId,
      clients: 0,
      maxClients: 100,
      locked: false,
      private: false,
      unlisted: false,
      metadata: { conversationId: `channel:${roomId}` },
    } as never as Parameters<RoutingDriver["insert"]>[0];
    assert.equal(await driver.insert(listing), true);
    return { listing, roomId };
  }

  const stored = async (redis: Redis, roomId: string) => {
    const raw = await redis.hget("roomcaches", roomId);
    return raw === null ? undefined : (JSON.parse(raw) as { clients: number; locked: boolean });
  };

  it("writes 40 joins and 10 leaves as one listing write, with the final count", async function () {
    const redis = connection();
    const node = await aNode();
    const { driver } = node;
    const { listing, roomId } = await roomOn(node);
    const before = await readCounters(redis);
    for (let i = 0; i < 40; i++) await driver.update(listing, { $inc: { clients: 1 }, $set: { locked: false } });
    for (let i = 0; i < 10; i++) await driver.update(listing, { $inc: { clients: -1 }, $set: { locked: false } });
    assert.equal(listing.clients, 30, "the listing Colyseus keeps is current at once");
    await waitFor(async () => (await stored(redis, roomId))?.clients === 30, { what: "the count to reach Redis", timeoutMs: LISTING_WRITE_DELAY_MS + 5000 });
    const after = await readCounters(redis);
    assert.equal((after.perCommand.hset ?? 0) - (before.perCommand.hset ?? 0), 1, "one HSET for the whole burst");
  });

  it("writes a lock at once, and never brings back the listing of a room that went", async function () {
    const redis = connection();
    const node = await aNode(200);
    const { driver } = node;
    const { listing, roomId } = await roomOn(node);
    await driver.update(listing, { $inc: { clients: 1 }, $set: { locked: true } });
    assert.deepEqual(await stored(redis, roomId).then((one) => one && { clients: one.clients, locked: one.locked }), { clients: 1, locked: true });

    await driver.update(listing, { $inc: { clients: 1 }, $set: { locked: true } });
    await driver.remove(roomId);
    // Another room's count, changed after the removal, is written after the removed room's would
    // have been (same delay): once it is there, the removed room's listing has had its chance.
    const other = await roomOn(node);
    await driver.update(other.listing, { $inc: { clients: 1 }, $set: { locked: false } });
    await waitFor(async () => (await stored(redis, other.roomId))?.clients === 1, { what: "the other room's count to reach Redis", timeoutMs: 5000 });
    assert.equal(await stored(redis, roomId), undefined, "the room that went has no listing");
  });

  it("writes nothing for the clients leaving a room that handed its conversation over", async function () {
    const redis = connection();
    const node = await aNode(200);
    const { driver } = node;
    const { listing, roomId } = await roomOn(node);
    await driver.update(listing, { $inc: { clients: 5 }, $set: { locked: true } });
    await driver.release(roomId, { conversationId: `channel:${roomId}`, lastSeq: 7 });
    const before = await readCounters(redis);
    for (let i = 0; i < 5; i++) await driver.update(listing, { $inc: { clients: -1 }, $set: { locked: true } });
    assert.equal(listing.clients, 0);
    // Another room's count, changed after the leaves, is written after any delayed write of theirs.
    const other = await roomOn(node);
    await driver.update(other.listing, { $inc: { clients: 1 }, $set: { locked: false } });
    await waitFor(async () => (await stored(redis, other.roomId))?.clients === 1, { what: "the other room's count to reach Redis", timeoutMs: 5000 });
    const after = await readCounters(redis);
    assert.equal((after.perCommand.hset ?? 0) - (before.perCommand.hset ?? 0), 2, "two HSETs: the other room's claim and its count, none for the leaves");
  });

  it("keeps a draining node's lock of its rooms in memory: no write per room, and its count still goes out", async function () {
    const redis = connection();
    const node = await aNode(200);
    const { driver } = node;
    const { listing, roomId } = await roomOn(node);
    await driver.stopHosting();
    const before = await readCounters(redis);
    // Colyseus's shutdown locks every room: on a draining node that costs Redis nothing.
    await driver.update(listing, { $set: { locked: true } });
    assert.equal(listing.locked, true, "the listing Colyseus keeps says locked");
    const after = await readCounters(redis);
    assert.equal((after.perCommand.hset ?? 0) - (before.perCommand.hset ?? 0), 0, "no HSET for the lock");
    // A client leaving while the room waits its turn: the delayed count write carries the lock.
    await driver.update(listing, { $inc: { clients: -1 }, $set: { locked: true } });
    await waitFor(async () => (await stored(redis, roomId))?.clients === -1, { what: "the count to reach Redis", timeoutMs: 5000 });
    assert.equal((await stored(redis, roomId))?.locked, true);
  });

  it("removes a room once however many times Colyseus asks (it asks three times per disposal)", async function () {
    const redis = connection();
    const node = await aNode();
    const { roomId } = await roomOn(node);
    const before = await readCounters(redis);
    assert.deepEqual(await Promise.all([node.driver.remove(roomId), node.driver.remove(roomId)]), [true, true]);
    assert.equal(await node.driver.remove(roomId), true);
    const after = await readCounters(redis);
    const delta = (name: string) => (after.perCommand[name] ?? 0) - (before.perCommand[name] ?? 0);
    assert.deepEqual({ srem: delta("srem"), hdel: delta("hdel") }, { srem: 1, hdel: 1 });
    assert.equal(await stored(redis, roomId), undefined);
    assert.equal(await redis.sismember(`parley:rooms:${node.processId}`, roomId), 0);
  });
});
