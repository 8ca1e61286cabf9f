/**
 * Two nodes in one process (deploy/node-thread.ts: each in a worker thread, with a matchmaker of its
 * own), on a real Redis and the test's store: they are a cluster like two processes are. A
 * conversation has one room whichever node a member joins through, messages cross, and draining one
 * node hands the room to the other make-before-break, with a seat in `migrate`.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { startThreadCluster, type NodeThread } from "../../deploy/node-thread.ts";
import type { HandOffSeat } from "../../schema/chat.ts";
import { hostOf, isolatedRedis, joinVia, leave, takeSeat, type Reply, type Seated } from "../support/cluster-helpers.ts";

describe("two nodes in one process (worker threads)", function () {
  this.timeout(60_000);
  let cluster: { nodes: NodeThread[]; stop(): Promise<void> } | undefined;
  let redis: Redis;
  const seated: Seated[] = [];

  before(async function () {
    const isolated = await isolatedRedis();
    redis = isolated.redis;
    cluster = await startThreadCluster({ count: 2, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: { SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000" } });
  });

  after(async function () {
    await Promise.all(seated.splice(0).map(leave));
    await cluster?.stop();
    redis?.disconnect();
  });

  const send = (member: Seated, text: string): Promise<Reply> => member.room.request("send", { clientMsgId: randomUUID(), text });

  it("seats both members in one room through either node, delivers across, and a drain hands the room to the other node", async function () {
    const [first, second] = cluster!.nodes as [NodeThread, NodeThread];
    const conversationId = `channel:threads-${randomUUID().slice(0, 8)}`;
    const alice = await joinVia(first, conversationId, "alice");
    const bob = await joinVia(second, conversationId, "bob");
    seated.push(alice, bob);
    assert.equal(bob.room.roomId, alice.room.roomId, "one room for the conversation, whichever node seats the member");
    const heard = new Promise<string>((resolve) => bob.room.onMessage("message", (message: { text: string }) => resolve(message.text)));
    const sent = await send(alice, "hello across threads");
    assert.equal(await heard, "hello across threads");

    // Drain the node that hosts the room: the other one opens it before migrate, with a seat for each.
    const host = await hostOf(redis, cluster!.nodes, alice.room.roomId);
    const other = host === first ? second : first;
    const migrate = new Promise<{ seat?: HandOffSeat }>((resolve) => alice.room.onMessage("migrate", resolve));
    host.drain();
    const { seat } = await migrate;
    assert.ok(seat, "migrate carries a seat in the room made before it");
    assert.equal(seat.publicAddress, other.publicAddress, "the seat is on the node that stays");
    const moved = await takeSeat(other, seat);
    seated.push(moved);
    assert.equal((await send(moved, "after the drain")).seq, sent.seq + 1, "the seq line goes on");
    await Promise.all([alice, bob].map(leave));
    assert.equal(await host.exited, 0, "the drained node's thread ends cleanly");
  });

  it("closes a moved room before a short drain's deadline even when its client never leaves, so the node exits cleanly", async function () {
    // DRAIN_TIMEOUT_MS 1 s: the old connections would linger a second (the least), past the deadline.
    const isolated = await isolatedRedis();
    const short = await startThreadCluster({ count: 2, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: { DRAIN_TIMEOUT_MS: "1000" } });
    try {
      // A stock client that ignores migrate and stays: only the room can end its connection.
      const stays = await joinVia(short.nodes[0]!, `channel:short-drain-${randomUUID().slice(0, 8)}`, "stays");
      const closed = new Promise<number>((resolve) => stays.room.onLeave(resolve));
      const migrated = new Promise<unknown>((resolve) => stays.room.onMessage("migrate", resolve));
      const host = await hostOf(isolated.redis, short.nodes, stays.room.roomId);
      host.drain();
      await migrated;
      assert.notEqual(await closed, 1006, "the room closed the connection, not the node's exit under it");
      assert.equal(await host.exited, 0, "the drain ended with every room closed, within DRAIN_TIMEOUT_MS");
    } finally {
      await short.stop();
      isolated.redis.disconnect();
    }
  });
});
