/**
 * The node-calls contract (server/cluster/node-calls.ts), run against both implementations: in
 * process, and over Redis presence on REDIS_URL (npm test provides one). What a caller sees: the
 * answer of the node it addressed, the handler's error, a typed refusal of a kind the node does not
 * know (counted through onUnknown), and a timeout from a node that is not there.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { RedisPresence } from "@colyseus/redis-presence";
import { requestFromIPC, subscribeIPC, type Presence } from "@colyseus/core";
import { Redis } from "ioredis";
import { waitFor } from "../../deploy/wait-for.ts";
import { inProcessNodeCalls, NODE_CALLS_VERSION, redisNodeCalls, UnknownCallError, type NodeCallHandlers, type NodeCalls } from "../../server/cluster/node-calls.ts";

type Fixture = { calls: NodeCalls; cleanup(): Promise<void> };

/** The presence's subscriber connection, as server/cluster/redis.ts hands it to node calls. */
const subscriberOf = (presence: RedisPresence) => (presence as unknown as { sub: Redis }).sub;

function handlersOf(name: string): NodeCallHandlers {
  return {
    sessionsOf: ({ roomId }) => (roomId === "known" ? [{ sessionId: `${name}-s1`, userId: "alice", name: "Alice", connectedAt: "2026-12-01T00:00:00.000Z" }] : null),
    sessionsOfUser: ({ userId }) => [{ sessionId: `${name}-s2`, userId, name: userId, connectedAt: "2026-12-01T00:00:00.000Z", roomId: "r1", roomName: "chat", routeValue: "channel:x" }],
    openRoom: async ({ conversationId }) => {
      if (conversationId === "refuse") throw new Error("this node takes no rooms now");
      return { roomId: `room-of-${conversationId}`, processId: name };
    },
  };
}

function nodeCallsContract(label: string, make: () => Promise<Fixture>): void {
  describe(`node calls: ${label}`, function () {
    let fixture: Fixture;
    const stops: Array<() => void> = [];
    const unknown: Array<{ kind: string; version: unknown }> = [];
    const a = `a-${randomUUID().slice(0, 8)}`;
    const b = `b-${randomUUID().slice(0, 8)}`;

    before(async function () {
      fixture = await make();
      stops.push(await fixture.calls.serve(a, handlersOf("A"), (kind, version) => unknown.push({ kind, version })));
      stops.push(await fixture.calls.serve(b, handlersOf("B"), (kind, version) => unknown.push({ kind, version })));
    });
    after(async function () {
      for (const stop of stops) stop();
      await fixture?.cleanup();
    });

    it("answers from the node addressed, typed by kind", async function () {
      assert.deepEqual(await fixture.calls.ask(b, "openRoom", { conversationId: "channel:x" }, 2000), { roomId: "room-of-channel:x", processId: "B" });
      assert.deepEqual(await fixture.calls.ask(a, "openRoom", { conversationId: "channel:x" }, 2000), { roomId: "room-of-channel:x", processId: "A" });
      assert.equal((await fixture.calls.ask(a, "sessionsOf", { roomId: "known" }, 2000))?.[0]?.sessionId, "A-s1");
      assert.equal(await fixture.calls.ask(a, "sessionsOf", { roomId: "unknown" }, 2000), null);
      assert.equal((await fixture.calls.ask(b, "sessionsOfUser", { userId: "bob" }, 2000))[0]?.userId, "bob");
    });

    it("rejects with the handler's error", async function () {
      await assert.rejects(fixture.calls.ask(b, "openRoom", { conversationId: "refuse" }, 2000), /takes no rooms now/);
    });

    it("refuses a kind the node does not know with UnknownCallError, and reports it once", async function () {
      const before = unknown.length;
      await assert.rejects(
        fixture.calls.ask(b, "rebalance" as never, {} as never, 2000),
        (error: unknown) => error instanceof UnknownCallError && /does not answer "rebalance"/.test((error as Error).message),
      );
      assert.deepEqual(unknown.slice(before), [{ kind: "rebalance", version: NODE_CALLS_VERSION }]);
    });

    it("says which nodes listen: the serving ones, not a node that never served or stopped", async function () {
      assert.equal(await fixture.calls.listening(a), true);
      assert.equal(await fixture.calls.listening(`gone-${randomUUID().slice(0, 8)}`), false);
      const c = `c-${randomUUID().slice(0, 8)}`;
      const stop = await fixture.calls.serve(c, handlersOf("C"));
      assert.equal(await fixture.calls.listening(c), true);
      stop();
      await waitFor(async () => !(await fixture.calls.listening(c)), { what: "the stopped node to stop listening" });
    });

    it("times out asking a node that does not listen", async function () {
      await assert.rejects(fixture.calls.ask(`gone-${randomUUID().slice(0, 8)}`, "sessionsOfUser", { userId: "x" }, 300), /ipc_timeout/);
    });
  });
}

nodeCallsContract("in process", async () => ({ calls: inProcessNodeCalls(), cleanup: async () => undefined }));

describe("node calls over Redis on REDIS_URL", function () {
  const redisUrl = process.env.REDIS_URL;
  before(function () {
    if (!redisUrl) {
      console.log("    skipping the Redis node-calls contract: REDIS_URL is not set (npm test provides one)");
      this.skip();
    }
  });
  nodeCallsContract("Redis presence", async () => {
    const redis = new Redis(redisUrl!);
    const presence = new RedisPresence(redis);
    return { calls: redisNodeCalls(presence, redis), cleanup: async () => presence.shutdown() };
  });
  nodeCallsContract("Redis presence, replies on one pattern subscription", async () => {
    const redis = new Redis(redisUrl!);
    const presence = new RedisPresence(redis);
    return { calls: redisNodeCalls(presence, redis, subscriberOf(presence)), cleanup: async () => presence.shutdown() };
  });

  it("answers calls on one pattern subscription: no SUBSCRIBE or UNSUBSCRIBE per call, and a node of any version answers", async function () {
    const redis = new Redis(redisUrl!);
    const presence = new RedisPresence(redis);
    const calls = redisNodeCalls(presence, redis, subscriberOf(presence));
    // The answering node asks nothing: Colyseus's own subscribeIPC, as every release serves calls.
    const older = new RedisPresence(new Redis(redisUrl!));
    const processId = `older-${randomUUID().slice(0, 8)}`;
    await subscribeIPC(older, `parley:node-calls:${processId}`, (_method: string, args: unknown) => ({
      roomId: `room-of-${(args as Array<{ conversationId: string }>)[0]!.conversationId}`,
      processId,
    }));
    try {
      assert.deepEqual(await calls.ask(processId, "openRoom", { conversationId: "warm" }, 2000), { roomId: "room-of-warm", processId });
      const counts = async () => {
        const info = await redis.info("commandstats");
        const of = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
        return { subscribe: of("subscribe"), unsubscribe: of("unsubscribe"), publish: of("publish") };
      };
      const before = await counts();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => calls.ask(processId, "openRoom", { conversationId: `c${i}` }, 2000)));
      assert.deepEqual(
        answers.map((answer) => answer.roomId),
        Array.from({ length: 20 }, (_, i) => `room-of-c${i}`),
        "each call gets its own answer",
      );
      const after = await counts();
      assert.deepEqual(
        { subscribe: after.subscribe - before.subscribe, unsubscribe: after.unsubscribe - before.unsubscribe, publish: after.publish - before.publish },
        { subscribe: 0, unsubscribe: 0, publish: 40 },
      );
    } finally {
      presence.shutdown();
      older.shutdown();
    }
  });

  it("answers the 0.3 console's questions on their old channel (a 0.3 api node during a rolling upgrade)", async function () {
    const presence: Presence = new RedisPresence(new Redis(redisUrl!));
    const processId = `old-api-${randomUUID().slice(0, 8)}`;
    const stop = await redisNodeCalls(presence).serve(processId, handlersOf("N"));
    try {
      const sessions = (await requestFromIPC(presence, `parley:console:ipc:${processId}`, "sessionsOf", ["known"], 2000)) as Array<{ sessionId: string }>;
      assert.equal(sessions[0]?.sessionId, "N-s1");
    } finally {
      stop();
      presence.shutdown();
    }
  });
});
