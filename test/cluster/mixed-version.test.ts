/**
 * A rolling upgrade under load (issue #15): a 3-node cluster of the previous release (the last tag,
 * checked out and installed beside this one) is rolled node by node to this checkout, then one
 * upgraded node is restarted again (a make-before-break hand-off), while clients of both client
 * kits, the previous release's and this one's, keep chatting in the same conversations. Nothing may be lost, duplicated or reordered for either kit, and every client ends
 * caught up with the store.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startCluster, type Cluster } from "../../deploy/cluster.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { ParleyClient } from "../../client/index.ts";
import type { TraceEvent } from "../../client/trace.ts";
import { check, type ClientLog, type LogEvent, type StoredMessage } from "../chaos/checker.ts";
import { isolatedRedis, storedMessages } from "../support/cluster-helpers.ts";
import { unique } from "../support/node-process.ts";
import { previousRelease, type Release } from "../support/previous-release.ts";

type Kit = "previous" | "this";
type KitClient = InstanceType<typeof ParleyClient>;
type KitConversation = Awaited<ReturnType<KitClient["join"]>>;
type Chatter = { kit: Kit; userId: string; conversationId: string; client: KitClient; conversation?: KitConversation; events: LogEvent[] };

const CONVERSATIONS = 4;
const PER_KIT = 2;

describe("mixed-version fleet: a rolling upgrade from the previous release under load", function () {
  this.timeout(300_000);
  let release: Release;
  let cluster: Cluster | undefined;
  let redisDisconnect: (() => void) | undefined;
  const chatters: Chatter[] = [];

  before(function () {
    this.timeout(660_000);
    const found = previousRelease((line) => console.log(`      ${line}`));
    if ("reason" in found) {
      console.log(`      skipped: no previous release to roll from: ${found.reason}`);
      return this.skip();
    }
    release = found;
  });

  after(async function () {
    for (const chatter of chatters) chatter.client.close();
    await cluster?.stop();
    redisDisconnect?.();
  });

  it("loses, duplicates and reorders nothing for clients of either kit while every node is replaced", async function () {
    const here = join(import.meta.dirname, "..", "..");
    const isolated = await isolatedRedis();
    redisDisconnect = () => isolated.redis.disconnect();
    const env = { SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000", REQUEST_RATE_PER_SEC: "1000", DRAIN_TIMEOUT_MS: "10000" };
    cluster = await startCluster({ nodes: 3, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env, root: release.root });
    const endpoints = cluster.nodes.map((node) => node.httpUrl);

    // The previous release's kit, as its users have it; this checkout's kit beside it.
    const previousKit = (await import(join(release.root, "client", "index.ts"))) as { ParleyClient: typeof ParleyClient };
    const kits: Record<Kit, typeof ParleyClient> = { previous: previousKit.ParleyClient, this: ParleyClient };
    const run = unique("mixed");
    for (let c = 0; c < CONVERSATIONS; c++) {
      for (const kit of ["previous", "this"] as const) {
        for (let u = 0; u < PER_KIT; u++) {
          const userId = `${kit === "previous" ? "old" : "new"}${c}x${u}`;
          const events: LogEvent[] = [];
          const client = new kits[kit]({
            endpoints,
            identity: { userId },
            onTrace: (event: TraceEvent) => events.push(event),
            requestTimeoutMs: 5000,
            joinTimeoutMs: 5000,
            backoff: { initialMs: 100, maxMs: 1000 },
          });
          chatters.push({ kit, userId, conversationId: `channel:${run}-c${c}`, client, events });
        }
      }
    }
    await Promise.all(
      chatters.map(async (chatter) => {
        chatter.conversation = await chatter.client.join(chatter.conversationId);
        const early = chatter.events.find((event) => event.type === "receive");
        chatter.events.unshift({ type: "joined", conversationId: chatter.conversationId, lastSeq: early?.type === "receive" ? early.seq - 1 : chatter.conversation.lastSeq, t: Date.now() });
      }),
    );

    // Everyone sends about two messages a second for the whole upgrade.
    let sending = true;
    let sent = 0;
    const loops = chatters.map(async (chatter, index) => {
      let n = 0;
      await new Promise((resolve) => setTimeout(resolve, (index * 37) % 500));
      while (sending) {
        chatter.conversation!.send(`${chatter.userId} m${n++}`).catch(() => undefined);
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 200));
      }
    });
    const progress = async (what: string) => {
      const before = sent;
      await waitFor(() => sent >= before + chatters.length * 2, { timeoutMs: 30_000, what });
    };

    await progress("load on the previous release");
    for (const node of [...cluster.nodes]) {
      await cluster.restart(node, here);
      await progress(`load after upgrading ${node.name}`);
    }
    // One more deploy, now new to new: the hand-off is make before break, with clients of both kits.
    await cluster.restart(cluster.nodes[0]!, here);
    await progress("load after a restart of an upgraded node");
    sending = false;
    await Promise.all(loops);

    // Every outbox empties and every client catches up with the store.
    await waitFor(() => chatters.every((chatter) => chatter.conversation!.pendingSends === 0), { timeoutMs: 60_000, what: "every outbox to empty" });
    const stored = new Map<string, StoredMessage[]>();
    for (let c = 0; c < CONVERSATIONS; c++) {
      const conversationId = `channel:${run}-c${c}`;
      stored.set(conversationId, await storedMessages(cluster.nodes[0]!, conversationId, "auditor"));
    }
    await waitFor(() => chatters.every((chatter) => chatter.conversation!.lastSeq === stored.get(chatter.conversationId)!.at(-1)?.seq), {
      timeoutMs: 30_000,
      what: "every client to catch up with the store",
    });
    for (const chatter of chatters) chatter.events.push({ type: "left", conversationId: chatter.conversationId, lastSeq: chatter.conversation!.lastSeq, t: Date.now() });

    const logs: ClientLog[] = chatters.map((chatter) => ({ clientId: `${chatter.kit}:${chatter.userId}`, userId: chatter.userId, events: chatter.events }));
    const report = check({ logs, stored, windows: [] });
    const ofKit = (kit: Kit) => ({
      acked: chatters.filter((chatter) => chatter.kit === kit).reduce((sum, chatter) => sum + chatter.events.filter((event) => event.type === "ack").length, 0),
      received: chatters.filter((chatter) => chatter.kit === kit).reduce((sum, chatter) => sum + chatter.events.filter((event) => event.type === "receive").length, 0),
    });
    console.log(`      rolled ${release.tag} -> this checkout under ${sent} sends; ${release.tag}'s kit: ${JSON.stringify(ofKit("previous"))}, this kit: ${JSON.stringify(ofKit("this"))}`);
    for (const kit of ["previous", "this"] as const) assert.ok(ofKit(kit).acked > 0 && ofKit(kit).received > 0, `clients of the ${kit} kit sent and received`);
    assert.deepEqual(
      { lost: report.lost, duplicated: report.duplicated, unexpected: report.unexpected, order: report.orderViolations, gaps: report.gaps, notCaughtUp: report.notCaughtUp },
      { lost: [], duplicated: [], unexpected: [], order: [], gaps: [], notCaughtUp: [] },
    );
  });
});
