/**
 * Where the routing driver places a new room (server/cluster/routing.ts `selectHost`), on a real
 * Redis (REDIS_URL): only on a host that is alive. A host whose process died (its subscriber
 * connection closed, as a SIGKILL does) is skipped at once, although its host key outlives it by up
 * to a lease; asking it would cost the join Colyseus's IPC timeout.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { ROUTES } from "../../server/cluster/route-key.ts";
import { aliveChannel, RoutingDriver } from "../../server/cluster/routing.ts";
import { waitFor } from "../../deploy/wait-for.ts";

type TestNode = { processId: string; driver: RoutingDriver; subscriber: Redis };

const quiet = { onLeaseLost() {}, onLookup() {}, onClaimLost() {}, onNodeLeaseLapsed() {}, onRenewFailed() {}, onRenewed() {} };

describe("routing: where a new room goes", function () {
  const redisUrl = process.env.REDIS_URL;
  const connections: Redis[] = [];
  const drivers: RoutingDriver[] = [];

  before(function () {
    if (!redisUrl) {
      console.log("    skipping the routing host tests: REDIS_URL is not set (npm test provides one)");
      this.skip();
    }
  });

  afterEach(async function () {
    for (const driver of drivers.splice(0)) await driver.shutdown().catch(() => undefined);
    for (const connection of connections.splice(0)) connection.disconnect();
  });

  /** A node's routing driver on its own two connections (commands, subscriber), like a real node. */
  async function node(leaseMs: number): Promise<TestNode> {
    const processId = `host-${randomUUID().slice(0, 8)}`;
    const commands = new Redis(`${redisUrl}`);
    const subscriber = new Redis(`${redisUrl}`);
    connections.push(commands, subscriber);
    const driver = new RoutingDriver({
      redis: commands,
      processId: () => processId,
      leaseMs,
      routes: ROUTES,
      hostsRooms: true,
      listen: (channel) => subscriber.subscribe(channel),
      events: quiet,
    });
    drivers.push(driver);
    await driver.boot();
    return { processId, driver, subscriber };
  }

  /**
   * A connection of the test's own and the host registry emptied, then a node on a long lease for
   * each name: no renewal rewrites a host key during the test.
   */
  async function hosts<const Name extends string>(...names: Name[]): Promise<{ isolated: Redis } & Record<Name, TestNode>> {
    const isolated = new Redis(`${redisUrl}`);
    connections.push(isolated);
    await isolated.del("parley:hosts");
    const nodes: Partial<Record<Name, TestNode>> = {};
    for (const name of names) nodes[name] = await node(60_000);
    return { isolated, ...(nodes as Record<Name, TestNode>) };
  }

  it("never picks a host whose process stopped listening, while its host key still lives", async function () {
    // Long leases: the dead node's host key stays for the whole test.
    const { isolated, live, dead } = await hosts("live", "dead");
    const picked = new Set<string>();
    for (let i = 0; i < 40; i++) picked.add(await live.driver.selectHost());
    assert.deepEqual([...picked].sort(), [live.processId, dead.processId].sort(), "both hosts are picked while both live");

    // The process dies: its connections close (its heartbeat timer goes with it).
    await dead.driver.shutdown().catch(() => undefined);
    await isolated.multi().set(`parley:host:${dead.processId}`, "0", "PX", 60_000).sadd("parley:hosts", dead.processId).exec();
    dead.subscriber.disconnect();
    await waitFor(async () => Number(((await isolated.pubsub("NUMSUB", aliveChannel(dead.processId))) as [string, number])[1]) === 0, { what: "Redis to see the dead node's subscriber gone" });
    const afterDeath = new Set<string>();
    for (let i = 0; i < 40; i++) afterDeath.add(await live.driver.selectHost());
    assert.deepEqual([...afterDeath], [live.processId], "only the live host is picked");
  });

  it("spreads a burst of new rooms over the hosts, counting the rooms it placed since their host keys were written", async function () {
    // As in the quarter of a lease between two renewals, when a burst of new conversations arrives.
    const { isolated, placing, empty, some, many } = await hosts("placing", "empty", "some", "many");
    await isolated.set(`parley:host:${placing.processId}`, "15", "PX", 60_000);
    await isolated.set(`parley:host:${some.processId}`, "5", "PX", 60_000);
    await isolated.set(`parley:host:${many.processId}`, "10", "PX", 60_000);
    const picked = await Promise.all(Array.from({ length: 30 }, () => placing.driver.selectHost()));
    const count = (processId: string) => picked.filter((one) => one === processId).length;
    assert.deepEqual(
      { empty: count(empty.processId), some: count(some.processId), many: count(many.processId), placing: count(placing.processId) },
      { empty: 15, some: 10, many: 5, placing: 0 },
      "each host ends with 15 rooms",
    );
  });

  it("spreads a draining node's hand-offs over the hosts by one look a second, counting the rooms it sent, never onto an excluded host", async function () {
    const { isolated, draining, fresh, busy, full } = await hosts("draining", "fresh", "busy", "full");
    // The busy host already holds 4 rooms (its host key, as its heartbeat writes it); the fresh one none.
    await isolated.set(`parley:host:${busy.processId}`, "4", "PX", 60_000);
    const smembers = async () => Number(/cmdstat_smembers:calls=(\d+)/.exec(await isolated.info("commandstats"))?.[1] ?? 0);
    const looksBefore = await smembers();
    const exclude = new Set([draining.processId, full.processId]);
    const picked: string[] = [];
    for (let i = 0; i < 12; i++) picked.push((await draining.driver.selectHandOffHost(exclude))!);
    const looks = (await smembers()) - looksBefore;
    const count = (processId: string) => picked.filter((one) => one === processId).length;
    assert.deepEqual(picked.slice(0, 4), Array(4).fill(fresh.processId), "the fresh host first, until it holds as many as the other");
    assert.deepEqual({ fresh: count(fresh.processId), busy: count(busy.processId), other: picked.length - count(fresh.processId) - count(busy.processId) }, { fresh: 8, busy: 4, other: 0 });
    assert.ok(looks <= 2, `12 hand-offs looked at the hosts ${looks} times (one look a second)`);
    // Preferred hosts (the nodes started after the draining one) take every room while one is live.
    const toPreferred = new Set<string>();
    for (let i = 0; i < 6; i++) toPreferred.add((await draining.driver.selectHandOffHost(exclude, new Set([busy.processId, "gone-node"])))!);
    assert.deepEqual([...toPreferred], [busy.processId], "the preferred host, although it holds more");
    assert.equal(await draining.driver.selectHandOffHost(exclude, new Set([full.processId])), fresh.processId, "a preferred host that is excluded: the least loaded of the rest");
    assert.equal(await draining.driver.selectHandOffHost(new Set([draining.processId, fresh.processId, busy.processId, full.processId])), undefined, "no host left: none");
  });

  it("waits out a route whose node missed renewals: a miss once the lease lapses, a hit if it comes back", async function () {
    const redis = new Redis(`${redisUrl}`);
    const subscriber = new Redis(`${redisUrl}`);
    connections.push(redis, subscriber);
    const leaseMs = 1000;
    const asker = await node(leaseMs);
    // A frozen node, written by hand: its lease, a route to its room and the room's listing; its
    // subscriber still listens (a SIGSTOPped process keeps its connections).
    const frozen = `frozen-${randomUUID().slice(0, 8)}`;
    await subscriber.subscribe(aliveChannel(frozen));
    const conversationId = `channel:${randomUUID().slice(0, 8)}`;
    const listing = { roomId: "r1", name: "chat", processId: frozen, clients: 1, maxClients: 100, locked: false, private: false, metadata: { conversationId } };
    await redis.multi().set(`parley:node:${frozen}`, "e1", "PX", leaseMs).set(`parley:route:chat:${conversationId}`, `r1 ${frozen} e1`).hset("roomcaches", "r1", JSON.stringify(listing)).exec();
    assert.equal((await asker.driver.findOne({ name: "chat", conversationId } as never))?.roomId, "r1", "a fresh lease: the room, at once");

    // Renewals stop: less than half the lease left. The lookup waits, and the lease comes back.
    await redis.pexpire(`parley:node:${frozen}`, 300);
    const renewed = asker.driver.findOne({ name: "chat", conversationId } as never);
    await redis.pexpire(`parley:node:${frozen}`, leaseMs);
    assert.equal((await renewed)?.roomId, "r1", "renewed while the lookup waited: the room");

    // And now it lapses: the lookup answers no room (the join creates one elsewhere), not a room
    // whose seat call would time out.
    await redis.pexpire(`parley:node:${frozen}`, 300);
    assert.equal(await asker.driver.findOne({ name: "chat", conversationId } as never), undefined, "lapsed: no room");
    await redis.del(`parley:route:chat:${conversationId}`).then(() => redis.hdel("roomcaches", "r1"));
  });
});
