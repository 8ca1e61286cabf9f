/**
 * The backup-and-restore drill (issue #14): a restore to an earlier point reuses seqs, so it sets a
 * new history epoch; a client kit that kept the old epoch reloads, and shows nothing twice and
 * nothing missing, the message that reuses a seq included. Real node processes on the MongoDB-wire
 * store, the project's own export and restore (deploy/backup.ts) over the driver; on one node, and
 * on a two-node cluster rolled after the restore, as the runbook says (hand-over notes then carry
 * the history the restore replaced).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { tmpdir } from "node:os";
import mongoose from "mongoose";
import { ParleyClient, type Message } from "../../client/index.ts";
import { exportStore, restoreStore } from "../../deploy/backup.ts";
import { freePort, withDatabase } from "../../deploy/services.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { startCluster } from "../../deploy/cluster.ts";
import { isolatedRedis } from "../support/cluster-helpers.ts";

describe("backup and restore drill", function () {
  this.timeout(60_000);
  const mongoUrl = process.env.MONGO_URL;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];

  before(function () {
    if (!mongoUrl) {
      console.log("    skipping the backup drill: MONGO_URL is not set (npm test provides one)");
      this.skip();
    }
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A database of its own for one drill, dropped after it. */
  async function drillDatabase(): Promise<{ url: string; db: mongoose.mongo.Db }> {
    const url = withDatabase(mongoUrl!, `parley_drill_${randomUUID().replaceAll("-", "").slice(0, 12)}`);
    const connection = await mongoose.createConnection(url).asPromise();
    cleanups.push(async () => {
      await connection.dropDatabase().catch(() => undefined);
      await connection.close();
    });
    return { url, db: connection.db! };
  }

  /**
   * Five messages under a live kit, a backup after three, a restore, then `roll` (the runbook's
   * drain of every node); the kit must reload once, show the three restored messages, and the next
   * send must take the reused seq 4.
   */
  async function drill(endpoints: string[], db: mongoose.mongo.Db, roll: () => Promise<void>): Promise<void> {
    const file = join(tmpdir(), `parley-drill-${process.pid}-${Date.now()}.jsonl`);
    let shown: Message[] = [];
    const reloads: string[] = [];
    const client = new ParleyClient({ endpoints, identity: { userId: unique("alice") }, backoff: { initialMs: 50, maxMs: 400 }, joinTimeoutMs: 5000, requestTimeoutMs: 5000 });
    cleanups.push(() => client.close());
    client.on("message", (message) => shown.push(message));
    client.on("reloaded", ({ epoch }) => {
      reloads.push(epoch);
      shown = [];
    });
    const room = await client.join(`channel:${unique("drill")}`);
    for (const text of ["one", "two", "three"]) await room.send(text);
    assert.equal((await exportStore(db, file)).messages, 3);
    for (const text of ["four (lost by the restore)", "five (lost by the restore)"]) await room.send(text);
    await waitFor(() => shown.length === 5, { what: "five messages shown" });

    const restored = await restoreStore(db, file);
    assert.equal(restored.counts.messages, 3);
    await roll();

    await waitFor(() => reloads.length === 1 && shown.length === 3, { timeoutMs: 20_000, what: "the kit to reload the restored history" });
    assert.deepEqual(reloads, [restored.epoch]);
    const reused = await room.send("six, at a reused seq");
    assert.equal(reused.seq, 4, "the restore made seq 4 free again (a room that trusted a note of the old history would say 6)");
    await waitFor(() => shown.length === 4, { what: "the message at the reused seq shown" });
    assert.deepEqual(
      shown.map((message) => [message.seq, message.text]),
      [
        [1, "one"],
        [2, "two"],
        [3, "three"],
        [4, "six, at a reused seq"],
      ],
    );
  }

  it("restores an earlier point under a live client: the client reloads, shows nothing twice and nothing missing, and takes a reused seq", async function () {
    const { url, db } = await drillDatabase();
    const env = { PORT: String(await freePort()), MONGO_URL: url, SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000" };
    let node: NodeProcess = await startNode(env);
    cleanups.push(() => node.stop());
    // Rooms start again from the restored store: drain the node and bring it back on the same address.
    await drill([node.httpUrl], db, async () => {
      await node.stop();
      node = await startNode(env);
    });
  });

  it("restores an earlier point, then rolls a cluster's nodes: the hand-over notes of the old history are not used, and the next send takes the reused seq", async function () {
    if (!process.env.REDIS_URL) {
      console.log("    skipping the cluster drill: REDIS_URL is not set (npm test provides one)");
      return this.skip();
    }
    const { url, db } = await drillDatabase();
    const { url: redisUrl, redis } = await isolatedRedis();
    redis.disconnect();
    const cluster = await startCluster({ nodes: 2, redisUrl, mongoUrl: url, env: { SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000" } });
    cleanups.push(() => cluster.stop());
    // The runbook: drain every node. Whichever node holds the room hands it over with a note that
    // says seq 5, from the history the restore replaced.
    await drill(
      cluster.nodes.map((one) => one.httpUrl),
      db,
      async () => {
        for (const one of [...cluster.nodes]) await cluster.restart(one);
      },
    );
  });
});
