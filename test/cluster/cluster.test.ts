/**
 * The cluster (issue #4), with real node processes from deploy/cluster.ts, real Redis and the real
 * store: any node seats anyone in the one room of any conversation; dms, inboxes and groups work
 * across nodes; stalls and crashes leave one room per conversation and no seq stored twice.
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import type { HandOffSeat } from "../../schema/chat.ts";
import { startCluster, type Cluster, type ClusterNode } from "../../deploy/cluster.ts";
import { hostOf, isolatedRedis, joinEventually, joinVia, leave, takeSeat, listingsOf, metricOf, storedMessages, type Listing, type Reply, type Seated } from "../support/cluster-helpers.ts";
import { runNodeToExit, unique } from "../support/node-process.ts";
import { startRedis } from "../../deploy/services.ts";
import { waitFor } from "../../deploy/wait-for.ts";

const LEASE_MS = 2000;
const generous = { SEND_RATE_PER_SEC: "10000", SEND_BURST: "10000", REQUEST_RATE_PER_SEC: "10000", ROOM_LEASE_MS: String(LEASE_MS) };

function send(seated: Seated, clientMsgId: string, text = clientMsgId): Promise<Reply> {
  return seated.room.request("send", { clientMsgId, text }, { timeout: 15_000 });
}

async function refusalOf(join: Promise<unknown>): Promise<string> {
  try {
    await join;
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the join was accepted");
}

async function http(url: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { ...init, headers: { "content-type": "application/json", ...init.headers } });
  return { status: response.status, body: await response.json() };
}

function assertGapFree(seqs: number[]): void {
  assert.deepEqual(
    seqs,
    seqs.map((_, index) => index + 1),
    "seq runs 1, 2, 3, ... with no gap and no reuse",
  );
}

describe("cluster", function () {
  this.timeout(60_000);

  it("refuses to start when REDIS_URL is set but Redis does not answer, naming REDIS_URL", async function () {
    const { code, output } = await runNodeToExit({ REDIS_URL: "redis://127.0.0.1:1", STORE_TIMEOUT_MS: "1000" });
    assert.notEqual(code, 0);
    assert.match(output, /REDIS_URL redis:\/\/127\.0\.0\.1:1 cannot be reached/);
  });

  it("answers /readyz 503 naming Redis while Redis is down, and 200 once it is back", async function () {
    let redis = await startRedis();
    const cluster = await startCluster({ nodes: 1, redisUrl: redis.url, mongoUrl: process.env.MONGO_URL, env: generous });
    try {
      const node = cluster.nodes[0]!;
      const readiness = async () => {
        const response = await fetch(`${node.httpUrl}/readyz`);
        return { status: response.status, redis: ((await response.json()) as { checks: { redis: string } }).checks.redis };
      };
      assert.deepEqual(await readiness(), { status: 200, redis: "ok" });
      const port = redis.port;
      await redis.stop();
      const down = await waitFor(
        async () => {
          const answer = await readiness();
          return answer.status === 503 ? answer : undefined;
        },
        { what: "readyz 503" },
      );
      assert.notEqual(down.redis, "ok");
      redis = await startRedis(port);
      await waitFor(async () => (await readiness()).status === 200, { timeoutMs: 20_000, what: "readyz 200 again" });
    } finally {
      await cluster.stop();
      await redis.stop();
    }
  });

  describe("an api node in front of two room hosts", function () {
    let cluster: Cluster;
    let redis: Redis;
    const seated: Seated[] = [];

    before(async function () {
      const isolated = await isolatedRedis();
      redis = isolated.redis;
      cluster = await startCluster({ nodes: 2, api: 1, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: generous });
    });

    afterEach(async function () {
      await Promise.all(seated.splice(0).map(leave));
    });

    after(async function () {
      await cluster?.stop();
      redis?.disconnect();
    });

    const api = () => cluster.nodes.find((node) => node.role === "api")!;
    const hosts = () => cluster.hosts();
    const seat = async (promise: Promise<Seated>) => {
      const one = await promise;
      seated.push(one);
      return one;
    };

    it("seats members through any node in the one room of a conversation, and delivers across nodes", async function () {
      const conversationId = `channel:${unique("cross")}`;
      const alice = await seat(joinVia(api(), conversationId, "alice"));
      const bob = await seat(joinVia(hosts()[0]!, conversationId, "bob"));
      const carol = await seat(joinVia(hosts()[1]!, conversationId, "carol"));
      assert.equal(bob.room.roomId, alice.room.roomId);
      assert.equal(carol.room.roomId, alice.room.roomId);

      const reply = await send(alice, unique("m"), "hello from the api node");
      await waitFor(() => bob.messages.length === 1 && carol.messages.length === 1, { what: "delivery to members seated through other nodes" });
      assert.equal(bob.messages[0]!.seq, reply.seq);
      assert.equal(carol.messages[0]!.text, "hello from the api node");

      const host = await hostOf(redis, cluster.nodes, alice.room.roomId);
      assert.notEqual(host.role, "api", "the api node hosts no rooms");
      assert.equal(await metricOf(api(), "parley_node_rooms"), 0);
    });

    it("keeps a dm private across nodes, over joins and over HTTP", async function () {
      const [a, b] = [unique("a"), unique("b")].sort() as [string, string];
      const dm = `dm:${a}:${b}`;
      await seat(joinVia(hosts()[0]!, dm, a));
      assert.match(await refusalOf(joinVia(hosts()[1]!, dm, "mallory")), /^FORBIDDEN/);
      assert.match(await refusalOf(joinVia(api(), dm, "mallory")), /^FORBIDDEN/);
      const read = await fetch(`${api().httpUrl}/v1/conversations/${dm}/messages?userId=mallory`);
      assert.equal(read.status, 403);
    });

    it("notifies a user's inbox, wherever it runs, of dm messages from others, and counts unread", async function () {
      const [a, b] = [unique("a"), unique("b")].sort() as [string, string];
      const dm = `dm:${a}:${b}`;
      const inboxOfB = await seat(joinVia(hosts()[1]!, "", b, "inbox"));
      const inboxOfA = await seat(joinVia(api(), "", a, "inbox"));
      const fromA = await seat(joinVia(hosts()[0]!, dm, a));

      const first = await send(fromA, unique("m"), "are you there?");
      const second = await send(fromA, unique("m"), "ping");
      const notified = await waitFor(() => (inboxOfB.received.get("notify")?.length === 2 ? inboxOfB.received.get("notify") : undefined), { what: "two notify at b's inbox" });
      assert.deepEqual(
        notified.map((message: any) => [message.conversationId, message.seq, message.senderId]),
        [
          [dm, first.seq, a],
          [dm, second.seq, a],
        ],
      );
      assert.equal(inboxOfA.received.get("notify"), undefined, "a sender is not notified of their own messages");

      const unread = await inboxOfB.room.request("unread", {});
      assert.deepEqual(unread.conversations, [{ conversationId: dm, lastSeq: second.seq, lastReadSeq: 0 }]);
      const fromB = await seat(joinVia(api(), dm, b));
      await fromB.room.request("read", { seq: first.seq });
      const after = await inboxOfB.room.request("unread", {});
      assert.deepEqual(after.conversations, [{ conversationId: dm, lastSeq: second.seq, lastReadSeq: first.seq }]);
    });

    it("applies group membership at the next join, and removes a removed member from the live room", async function () {
      const group = unique("g");
      const conversationId = `group:${group}`;
      const member = (method: string, userId: string, by = "svc&roles=service") => http(`${api().httpUrl}/v1/groups/${group}/members/${userId}?userId=${by}`, { method });

      assert.equal((await member("PUT", "alice", "alice")).status, 403, "only a service or an admin manages members");
      assert.equal((await member("PUT", "alice")).status, 200);
      assert.equal((await member("PUT", "bob", "boss&roles=admin")).status, 200);
      assert.match(await refusalOf(joinVia(hosts()[0]!, conversationId, "carol")), /^FORBIDDEN/);

      const alice = await seat(joinVia(hosts()[0]!, conversationId, "alice"));
      const bob = await seat(joinVia(hosts()[1]!, conversationId, "bob"));
      const inboxOfBob = await seat(joinVia(api(), "", "bob", "inbox"));
      await send(alice, unique("m"), "team, listen up");
      await waitFor(() => bob.messages.length === 1 && inboxOfBob.received.get("notify")?.length === 1, { what: "group delivery and notify" });

      assert.equal((await member("PUT", "carol")).status, 200);
      const carol = await seat(joinVia(api(), conversationId, "carol"));
      assert.equal(carol.room.roomId, alice.room.roomId);

      assert.equal((await member("DELETE", "bob")).status, 200);
      assert.equal(await bob.left, 4403, "the removed member's connection is closed with 4403");
      assert.deepEqual(bob.received.get("error"), [{ code: "FORBIDDEN", message: "removed from this group" }]);
      assert.match(await refusalOf(joinVia(hosts()[0]!, conversationId, "bob")), /^FORBIDDEN/);
      await send(alice, unique("m"), "bob is gone");
      await waitFor(() => carol.messages.length === 1, { what: "delivery after the removal" });
      assert.equal(inboxOfBob.received.get("notify")?.length, 1, "a removed member is no longer notified");
    });

    it("delivers a service's POST live to the room wherever it runs, once per clientMsgId", async function () {
      const conversationId = `channel:${unique("post")}`;
      const listener = await seat(joinVia(hosts()[1]!, conversationId, "dave"));
      const post = (body: unknown, as = "bot&roles=service") => http(`${api().httpUrl}/v1/conversations/${conversationId}/messages?userId=${as}`, { method: "POST", body: JSON.stringify(body) });

      const first = await post({ clientMsgId: "announce-1", text: "Server restarts at noon", senderName: "Game Master" });
      assert.equal(first.status, 200);
      assert.equal(first.body.duplicate, false);
      await waitFor(() => listener.messages.length === 1, { what: "live delivery of the POST" });
      assert.deepEqual([listener.messages[0]!.senderId, (listener.messages[0] as any).senderName, listener.messages[0]!.seq], ["bot", "Game Master", first.body.seq]);

      const again = await post({ clientMsgId: "announce-1", text: "Server restarts at noon" });
      assert.deepEqual([again.status, again.body.seq, again.body.duplicate], [200, first.body.seq, true]);
      assert.equal((await post({ clientMsgId: "x", text: "hi" }, "dave")).status, 403);
      assert.equal((await post({ clientMsgId: "bad id!", text: "hi" })).body.error.code, "INVALID");
      const malformed = await http(`${api().httpUrl}/v1/conversations/${conversationId}/messages?userId=bot&roles=service`, { method: "POST", body: "{not json" });
      assert.deepEqual([malformed.status, malformed.body.error.code], [400, "INVALID"]);
      assert.equal(listener.messages.length, 1, "a duplicate POST delivers nothing new");
    });

    it("finds a conversation's room without reading every listing: joins send no HGETALL to Redis", async function () {
      const conversations = Array.from({ length: 20 }, () => `channel:${unique("cost")}`);
      for (const conversationId of conversations) await seat(joinVia(hosts()[0]!, conversationId, "erin"));
      const hgetallBefore = await commandCalls(redis, "hgetall");
      for (const conversationId of conversations) await seat(joinVia(api(), conversationId, "frank"));
      await seat(joinVia(api(), `channel:${unique("cost-new")}`, "frank"));
      assert.equal(await commandCalls(redis, "hgetall"), hgetallBefore);
    });
  });

  describe("three room hosts", function () {
    let cluster: Cluster;
    let redis: Redis;

    beforeEach(async function () {
      const isolated = await isolatedRedis();
      redis = isolated.redis;
      cluster = await startCluster({ nodes: 3, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: generous });
    });

    afterEach(async function () {
      for (const node of cluster?.nodes ?? []) node.signal("SIGCONT");
      await cluster?.stop();
      redis?.disconnect();
    });

    /** A new conversation whose room landed on `host`, with a writer seated through `via`. */
    async function conversationHostedBy(host: ClusterNode, via: ClusterNode, label: string): Promise<{ conversationId: string; writer: Seated }> {
      for (;;) {
        const conversationId = `channel:${unique(label)}`;
        const writer = await joinVia(via, conversationId, "writer");
        if ((await hostOf(redis, cluster.nodes, writer.room.roomId)).name === host.name) return { conversationId, writer };
        await writer.room.leave();
      }
    }

    it("gives 50 concurrent joins of a new conversation over 3 nodes exactly one room", async function () {
      const conversationId = `channel:${unique("crowd")}`;
      const joined = await Promise.all(Array.from({ length: 50 }, (_, index) => joinVia(cluster.nodes[index % 3]!, conversationId, `user${index}`)));
      assert.equal(new Set(joined.map((one) => one.room.roomId)).size, 1);
      assert.equal((await listingsOf(redis, conversationId)).length, 1);
      await Promise.all(joined.map((one) => one.room.leave()));
    });

    it("after a room host stalls for 5 s, ends with one live room per conversation and no seq stored twice", async function () {
      this.timeout(90_000);
      // Conversations until one lands on the node we will stall.
      const conversations: Array<{ id: string; writer: Seated }> = [];
      const victim = cluster.nodes[0]!;
      const others = cluster.nodes.slice(1);
      while (!conversations.some((one) => one.writer.room.roomId && victimHosts(one.writer))) {
        const id = `channel:${unique("stall")}`;
        const writer = await joinVia(others[conversations.length % 2]!, id, "writer");
        (writer as Seated & { host?: string }).host = (await hostOf(redis, cluster.nodes, writer.room.roomId)).name;
        conversations.push({ id, writer });
      }
      function victimHosts(seated: Seated): boolean {
        return (seated as Seated & { host?: string }).host === victim.name;
      }
      for (const { writer } of conversations) await send(writer, unique("before"));

      victim.signal("SIGSTOP");
      const stoppedAt = Date.now();
      const stalled = conversations.filter((one) => victimHosts(one.writer));
      // Sends into the stalled room hang; joins through live nodes move the conversation.
      const hanging = stalled.map(({ writer }) =>
        send(writer, unique("during")).then(
          (reply) => ({ reply }),
          (error) => ({ error }),
        ),
      );
      const newcomers = await Promise.all(stalled.map(({ id }) => joinEventually(others[0]!, id, "newcomer", 30_000)));
      const acked = await Promise.all(newcomers.map((one) => send(one, unique("moved"))));
      // The fault lasts 5 s, as a long GC pause or a frozen VM would (a fault window, not a synchronisation).
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (Date.now() - stoppedAt))));
      victim.signal("SIGCONT");

      await waitFor(
        async () => {
          for (const { id } of conversations) if ((await listingsOf(redis, id)).length !== 1) return false;
          return true;
        },
        { timeoutMs: 30_000, what: "one live room per conversation" },
      );
      for (const [index, { id }] of stalled.entries()) {
        const stored = await storedMessages(others[1]!, id, "auditor");
        assertGapFree(stored.map((message) => message.seq));
        assert.ok(
          stored.some((message) => message.seq === acked[index]!.seq),
          "the send acked by the new room is stored",
        );
      }
      const outcomes = await Promise.all(hanging);
      for (const [index, outcome] of outcomes.entries()) {
        if ("reply" in outcome) {
          const stored = await storedMessages(others[1]!, stalled[index]!.id, "auditor");
          assert.ok(
            stored.some((message) => message.seq === outcome.reply.seq),
            "a send acked by the stalled room is stored",
          );
        }
      }
      await Promise.all([...newcomers, ...conversations.map((one) => one.writer)].map(leave));
    });

    it("drains a room host on SIGTERM, make before break: the conversation's room is live on another node before migrate, migrate carries a seat in it, the old connection stays and refuses sends UNAVAILABLE", async function () {
      const victim = cluster.nodes[0]!;
      const survivor = cluster.nodes[1]!;
      const { conversationId, writer } = await conversationHostedBy(victim, survivor, "drain");
      const before = [];
      for (let index = 0; index < 3; index++) before.push(await send(writer, unique("before")));
      // A second conversation on the same node, idle: its room stays after its last client left.
      const idle = await conversationHostedBy(victim, survivor, "idle");
      const idleSeq = (await send(idle.writer, unique("idle"))).seq;
      await leave(idle.writer);

      // Read Redis the moment migrate arrives: the replacement must already be there.
      const notesTakenBefore = await commandCalls(redis, "getdel");
      const atMigrate = new Promise<{ payload: unknown; listings: Listing[]; notesTaken: number }>((resolve) =>
        writer.room.onMessage(
          "migrate",
          (payload) =>
            void Promise.all([listingsOf(redis, conversationId), commandCalls(redis, "getdel")]).then(([listings, notesTaken]) =>
              resolve({ payload, listings, notesTaken: notesTaken - notesTakenBefore }),
            ),
        ),
      );
      victim.signal("SIGTERM");
      const { payload, listings, notesTaken } = await atMigrate;
      assert.equal(notesTaken, 0, "the replacement started from the hand-over note sent with the call, not one left in Redis");
      const { seat, ...rest } = payload as { seat?: HandOffSeat };
      assert.deepEqual(rest, { reason: "node draining", retryAfterMs: 0 });
      const replacement = listings.find((listing) => listing.publicAddress !== victim.publicAddress);
      assert.ok(replacement, `a room on another node held the conversation when migrate came (listings: ${JSON.stringify(listings)})`);
      assert.ok(seat, "migrate carries a seat held in the replacement (protocol 1.2)");
      assert.equal(seat.roomId, replacement.roomId, "the seat is in the room made before migrate");
      assert.equal(seat.publicAddress, replacement.publicAddress, "the seat names the replacement's node");

      // The old connection stays open, and a send on it is refused, to be sent again on the new room.
      assert.ok(writer.room.connection.isOpen, "the old connection stays open after migrate");
      const refused = await writer.room.request("send", { clientMsgId: unique("late"), text: "late" }).then(
        () => undefined,
        (error: { reason?: { code?: string } }) => error.reason?.code,
      );
      assert.equal(refused, "UNAVAILABLE");
      // Operators see the hand-off, and how long the moved conversation refused sends.
      assert.equal(await metricOf(victim, "parley_handoffs_total", 'outcome="replaced"'), 1);
      assert.equal(await metricOf(victim, "parley_handoff_pause_seconds_count"), 1, "one pause measured: the conversation that had clients");

      // The seat seats the writer in that room without matchmaking, as the writer, once only.
      const byseat = await takeSeat(survivor, seat);
      assert.equal(byseat.room.roomId, replacement.roomId, "the seat's join landed on the room made before migrate");
      assert.equal((await send(byseat, unique("seat"))).seq, before.at(-1)!.seq + 1);
      await assert.rejects(takeSeat(survivor, seat), "a seat is taken once");

      // A client that ignores the seat (version 1): one join lands on that room at once (no retry),
      // which continues the seq line.
      const rejoined = await joinVia(survivor, conversationId, "writer");
      assert.equal(rejoined.room.roomId, replacement.roomId, "the join landed on the room made before migrate");
      const missed = await rejoined.room.request("sync", { afterSeq: before.at(-1)!.seq + 1 });
      assert.deepEqual(missed.messages, []);
      assert.equal((await send(rejoined, unique("after"))).seq, before.at(-1)!.seq + 2);
      // The old room goes once its last client leaves, and the node exits cleanly.
      await leave(writer);
      assert.equal(await victim.exited, 0, "the drained node exits cleanly");
      await Promise.all([byseat, rejoined].map(leave));

      // The idle room was not opened anywhere (nobody to move); the next join opens it and goes on.
      assert.deepEqual(await listingsOf(redis, idle.conversationId), [], "no room was opened for the idle conversation");
      const back = await joinVia(survivor, idle.conversationId, "writer");
      assert.deepEqual(
        (await back.room.request("sync", { afterSeq: 0 })).messages.map((message: { seq: number }) => message.seq),
        [idleSeq],
      );
      assert.equal((await send(back, unique("idle"))).seq, idleSeq + 1);
      await leave(back);
    });

    it("after a room host is killed, its conversations are joinable elsewhere within the lease, history intact", async function () {
      const victim = cluster.nodes[0]!;
      const survivor = cluster.nodes[1]!;
      const { conversationId, writer } = await conversationHostedBy(victim, survivor, "crash");
      const before = [];
      for (let index = 0; index < 5; index++) before.push(await send(writer, unique("before")));

      victim.signal("SIGKILL");
      await victim.exited;
      const killedAt = Date.now();
      const rejoined = await joinEventually(survivor, conversationId, "writer", LEASE_MS + 20_000);
      const tookMs = Date.now() - killedAt;
      assert.notEqual(rejoined.room.roomId, writer.room.roomId);
      console.log(`      (joinable again ${tookMs} ms after SIGKILL; lease ${LEASE_MS} ms)`);

      const history = await rejoined.room.request("sync", { afterSeq: 0 });
      assert.deepEqual(
        history.messages.map((message: { seq: number }) => message.seq),
        before.map((reply) => reply.seq),
      );
      const next = await send(rejoined, unique("after"));
      assert.equal(next.seq, before.at(-1)!.seq + 1);
      await rejoined.room.leave();
    });
  });
});

async function commandCalls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info("commandstats");
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}
