/**
 * Moderation (issue #12) on two real nodes with Redis and the MongoDB-wire store: every action is
 * taken through node A while its target is seated on node B, and must hold there within a second,
 * and after a restart. The HTTP API refuses bad input with typed codes.
 */
import assert from "node:assert/strict";
import { Client } from "@colyseus/sdk";
import type { Redis } from "ioredis";
import { startCluster, type Cluster, type ClusterNode } from "../../deploy/cluster.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { isolatedRedis, leave, type Message, type Reply, type Seated } from "../support/cluster-helpers.ts";
import { signToken, unique } from "../support/node-process.ts";

const SECRET = "moderation-suite-secret-0123456789abcdef";
const generous = { SEND_RATE_PER_SEC: "10000", SEND_BURST: "10000", REQUEST_RATE_PER_SEC: "10000", ROOM_LEASE_MS: "2000", JWT_SECRET: SECRET };

type Refusal = { code: string; message: string; retryAfterMs?: number };

/** Join with a signed token (roles included) and record every server message. */
async function seat(node: ClusterNode, conversationId: string, userId: string, roles: string[] = []): Promise<Seated> {
  const client = new Client(node.httpUrl);
  client.auth.token = await signToken(SECRET, { sub: userId, roles });
  const room = await client.joinOrCreate("chat", { conversationId });
  const messages: Message[] = [];
  const received = new Map<string, unknown[]>();
  room.onMessage("*", (type, payload) => {
    received.set(String(type), [...(received.get(String(type)) ?? []), payload]);
    if (type === "message") messages.push(payload as Message);
  });
  const left = new Promise<number>((resolve) => room.onLeave((code) => resolve(code)));
  return { room, messages, received, left };
}

const send = (seated: Seated, text: string, clientMsgId = unique("m")) => seated.room.request("send", { clientMsgId, text }) as Promise<Reply>;

async function refusalOf(promise: Promise<unknown>): Promise<Refusal> {
  try {
    await promise;
  } catch (error) {
    const reason = (error as { reason?: Refusal }).reason;
    assert.ok(reason, `a refusal, got ${String(error)}`);
    return reason;
  }
  assert.fail("accepted");
}

async function http(node: ClusterNode, method: string, path: string, as: { userId: string; roles?: string[] }, body?: unknown) {
  const token = await signToken(SECRET, { sub: as.userId, roles: as.roles ?? [] });
  const response = await fetch(`${node.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

const MOD = { userId: "mod1", roles: ["moderator"] };

describe("moderation across two nodes", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let redis: Redis;
  const seats: Seated[] = [];
  const keep = (seated: Seated) => {
    seats.push(seated);
    return seated;
  };
  const a = () => cluster.nodes[0]!;
  const b = () => cluster.nodes[1]!;
  const act = (body: Record<string, unknown>, as = MOD, node = a()) => http(node, "POST", "/v1/moderation/actions", as, { actionId: unique("act"), ...body });

  before(async () => {
    const isolated = await isolatedRedis();
    redis = isolated.redis;
    cluster = await startCluster({ nodes: 2, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: generous });
  });
  afterEach(async () => Promise.all(seats.splice(0).map(leave)));
  after(async () => {
    await cluster?.stop();
    redis?.disconnect();
  });

  it("welcomes a joining client with the conversation's last seq and epoch, before any message", async function () {
    const conversationId = `channel:${unique("w")}`;
    const first = keep(await seat(a(), conversationId, unique("u")));
    await send(first, "one");
    const second = keep(await seat(b(), conversationId, unique("u")));
    await waitFor(() => second.received.get("welcome")?.length === 1, { what: "welcome" });
    assert.deepEqual(second.received.get("welcome")![0], { conversationId, lastSeq: 1, epoch: "1" });
  });

  it("mutes a user seated on the other node: sends refused FORBIDDEN, typing dropped; unmute lets them send", async function () {
    const conversationId = `channel:${unique("mute")}`;
    const target = unique("target");
    const muted = keep(await seat(b(), conversationId, target));
    const other = keep(await seat(a(), conversationId, unique("other")));
    const reply = await act({ type: "mute", userId: target, durationMs: 60_000, reason: "spam" });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.duplicate, false);
    const refusal = await waitFor(() => refusalOf(send(muted, "let me talk")).catch(() => undefined), { timeoutMs: 10_000, intervalMs: 50, what: "the mute on the other node" });
    assert.equal(refusal.code, "FORBIDDEN");
    assert.ok(refusal.retryAfterMs! > 50_000 && refusal.retryAfterMs! <= 60_000, `retryAfterMs is the time left: ${refusal.retryAfterMs}`);
    muted.room.send("typing");
    await send(other, "still talking");
    await waitFor(() => muted.messages.length === 1, { what: "the other's message" });
    assert.equal(other.received.get("typing"), undefined, "a muted user's typing is dropped");

    assert.equal((await act({ type: "unmute", userId: target })).status, 200);
    await waitFor(() => send(muted, "back").catch(() => undefined), { timeoutMs: 10_000, intervalMs: 50, what: "the unmute" });
  });

  it("shows a shadow-muted user's messages whole to them and as tombstones to everyone else, live, in sync and over HTTP", async function () {
    const conversationId = `channel:${unique("shadow")}`;
    const target = unique("target");
    const sender = keep(await seat(b(), conversationId, target));
    const reader = keep(await seat(a(), conversationId, unique("reader")));
    await act({ type: "shadow_mute", userId: target });
    await waitFor(
      async () => {
        const ack = await send(sender, "buy gold at example");
        await waitFor(() => reader.messages.some((message) => message.seq === ack.seq), { what: "delivery" });
        return reader.messages.find((message) => message.seq === ack.seq)!.deleted;
      },
      { timeoutMs: 10_000, what: "the shadow mute on the sender's node" },
    );
    const last = reader.messages.at(-1)!;
    assert.deepEqual([last.text, last.deleted, last.senderId], ["", true, target]);
    const mine = sender.messages.find((message) => message.seq === last.seq)!;
    assert.deepEqual([mine.text, mine.deleted, "shadow" in mine], ["buy gold at example", undefined, false], "the sender sees it whole and no mark");
    const synced = (await reader.room.request("sync", { afterSeq: last.seq - 1 })) as { messages: Message[] };
    assert.deepEqual([synced.messages[0]!.text, synced.messages[0]!.deleted], ["", true]);
    const own = (await sender.room.request("sync", { afterSeq: last.seq - 1 })) as { messages: Message[] };
    assert.equal(own.messages[0]!.text, "buy gold at example");
    const viaHttp = await http(a(), "GET", `/v1/conversations/${conversationId}/messages?afterSeq=${last.seq - 1}`, { userId: "someone" });
    assert.deepEqual([viaHttp.body.messages[0].text, viaHttp.body.messages[0].deleted], ["", true]);
    await act({ type: "unmute", userId: target });
  });

  it("bans a user from one conversation: the live session gets removed and 4403, joins are refused, other conversations are not touched; unban lets them in", async function () {
    const conversationId = `channel:${unique("ban")}`;
    const elsewhere = `channel:${unique("free")}`;
    const target = unique("target");
    const banned = keep(await seat(b(), conversationId, target));
    const free = keep(await seat(b(), elsewhere, target));
    await act({ type: "ban", userId: target, conversationId, reason: "abuse" });
    assert.equal(await banned.left, 4403);
    assert.deepEqual(banned.received.get("removed"), [{ conversationId, reason: "banned" }]);
    await assert.rejects(seat(a(), conversationId, target), (error: Error) => error.message.startsWith("FORBIDDEN"));
    await send(free, "still here");
    await act({ type: "unban", userId: target, conversationId });
    keep(await waitFor(() => seat(b(), conversationId, target).catch(() => undefined), { timeoutMs: 10_000, what: "a join after unban" }));
  });

  it("kicks a user's sessions with removed and 4403, and lets them join again", async function () {
    const conversationId = `channel:${unique("kick")}`;
    const target = unique("target");
    const kicked = keep(await seat(b(), conversationId, target));
    await act({ type: "kick", userId: target, conversationId });
    assert.equal(await kicked.left, 4403);
    assert.deepEqual(kicked.received.get("removed"), [{ conversationId, reason: "kicked" }]);
    keep(await seat(a(), conversationId, target));
  });

  it("deletes a message by moderation: everyone gets deleted, history keeps a tombstone at its seq with no gap", async function () {
    const conversationId = `channel:${unique("del")}`;
    const alice = keep(await seat(b(), conversationId, unique("alice")));
    const bob = keep(await seat(b(), conversationId, unique("bob")));
    await send(alice, "first");
    const bad = await send(alice, "something awful");
    await send(alice, "third");
    assert.equal((await act({ type: "delete", conversationId, seq: bad.seq })).status, 200);
    await waitFor(() => (bob.received.get("deleted")?.length ?? 0) === 1, { what: "deleted on the other node's room" });
    assert.deepEqual(bob.received.get("deleted"), [{ conversationId, seq: bad.seq }]);
    const page = (await bob.room.request("history", {})) as { messages: Message[] };
    assert.deepEqual(
      page.messages.map((message) => [message.seq, message.text]),
      [
        [1, "first"],
        [2, ""],
        [3, "third"],
      ],
    );
    assert.equal(page.messages[1]!.deleted, true);
    assert.equal((await act({ type: "delete", conversationId, seq: 99 })).status, 404);
  });

  it("lets a sender delete their own message and a moderator any, and refuses others FORBIDDEN", async function () {
    const conversationId = `channel:${unique("own")}`;
    const alice = keep(await seat(a(), conversationId, unique("alice")));
    const bob = keep(await seat(b(), conversationId, unique("bob")));
    const mod = keep(await seat(b(), conversationId, unique("mod"), ["moderator"]));
    const one = await send(alice, "mine");
    const two = await send(alice, "also mine");
    assert.equal((await refusalOf(bob.room.request("delete", { seq: one.seq }))).code, "FORBIDDEN");
    assert.deepEqual(await alice.room.request("delete", { seq: one.seq }), {});
    assert.deepEqual(await mod.room.request("delete", { seq: two.seq }), {});
    await waitFor(() => (bob.received.get("deleted")?.length ?? 0) === 2, { what: "both deletes" });
    assert.equal((await refusalOf(alice.room.request("delete", { seq: 50 }))).code, "INVALID");
    const audit = await http(a(), "GET", `/v1/moderation/actions?conversationId=${conversationId}`, MOD);
    assert.deepEqual(
      audit.body.actions.map((entry: { type: string; seq: number }) => [entry.type, entry.seq]),
      [["delete", two.seq]],
      "the moderator's delete is audited, the sender's own is not",
    );
  });

  it("keeps slow mode: a second send within the interval is RATE_LIMITED with retryAfterMs; moderators are exempt", async function () {
    const conversationId = `channel:${unique("slow")}`;
    const user = keep(await seat(b(), conversationId, unique("u")));
    const mod = keep(await seat(b(), conversationId, unique("mod"), ["moderator"]));
    await act({ type: "slow_mode", conversationId, intervalMs: 30_000 });
    await waitFor(
      async () => {
        await send(user, "one");
        return (await refusalOf(send(user, "two")).catch(() => undefined))?.code === "RATE_LIMITED";
      },
      { timeoutMs: 10_000, what: "slow mode" },
    );
    const refusal = await refusalOf(send(user, "three"));
    assert.ok(refusal.retryAfterMs! > 20_000, `retryAfterMs ${refusal.retryAfterMs}`);
    await send(mod, "a");
    await send(mod, "b");
    await act({ type: "slow_mode", conversationId, intervalMs: 0 });
    await waitFor(() => send(user, "free again").catch(() => undefined), { timeoutMs: 10_000, what: "slow mode off" });
  });

  it("records a report once per reporter and message with its context, and lists it for moderators", async function () {
    const conversationId = `channel:${unique("rep")}`;
    const alice = keep(await seat(a(), conversationId, unique("alice")));
    for (let i = 1; i <= 12; i++) await send(alice, `line ${i}`);
    const reporter = keep(await seat(b(), conversationId, unique("bob")));
    const first = (await reporter.room.request("report", { seq: 12, reason: "harassment" })) as { reportId: string };
    const again = (await reporter.room.request("report", { seq: 12, reason: "again" })) as { reportId: string };
    assert.equal(again.reportId, first.reportId);
    assert.equal((await refusalOf(reporter.room.request("report", { seq: 12, reason: "x".repeat(501) }))).code, "INVALID");
    const listed = await http(b(), "GET", "/v1/moderation/reports?limit=50", MOD);
    const report = listed.body.reports.find((entry: { reportId: string }) => entry.reportId === first.reportId);
    assert.deepEqual(
      report.context.map((message: Message) => message.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].slice(1),
      "the message and the 10 before it",
    );
    assert.equal(report.reason, "harassment");
    assert.equal((await http(b(), "GET", "/v1/moderation/reports", { userId: "x", roles: ["service"] })).status, 403);
  });

  it("refuses a dm send to a user who blocked the sender, across nodes, until unblocked", async function () {
    const [x, y] = [unique("x"), unique("y")].sort() as [string, string];
    const dm = `dm:${x}:${y}`;
    const fromX = keep(await seat(a(), dm, x));
    keep(await seat(b(), dm, y));
    assert.equal((await http(b(), "PUT", `/v1/users/${y}/blocks/${x}`, { userId: y })).status, 200);
    assert.equal((await http(b(), "PUT", `/v1/users/${x}/blocks/${y}`, { userId: y })).status, 403, "only that user changes their blocks");
    await waitFor(async () => (await refusalOf(send(fromX, "hey")).catch(() => undefined))?.code === "FORBIDDEN", { timeoutMs: 10_000, intervalMs: 50, what: "the block" });
    assert.equal((await http(b(), "DELETE", `/v1/users/${y}/blocks/${x}`, { userId: y })).status, 200);
    await waitFor(() => send(fromX, "hey again").catch(() => undefined), { timeoutMs: 10_000, what: "the unblock" });
  });

  it("takes an action once per actionId, and lists the audit log newest first", async function () {
    const target = unique("target");
    const actionId = unique("once");
    const first = await act({ actionId, type: "mute", userId: target, durationMs: 1000, reason: "first" });
    const again = await act({ actionId, type: "mute", userId: target, durationMs: 999_999, reason: "second" }, MOD, b());
    assert.deepEqual(again.body, { ...first.body, duplicate: true });
    await act({ type: "unmute", userId: target });
    const audit = await http(b(), "GET", `/v1/moderation/actions?userId=${target}`, { userId: "admin1", roles: ["admin"] });
    assert.deepEqual(
      audit.body.actions.map((entry: { type: string }) => entry.type),
      ["unmute", "mute"],
    );
    assert.deepEqual([audit.body.actions[1].by, audit.body.actions[1].reason, typeof audit.body.actions[1].until], ["mod1", "first", "string"]);
  });

  it("refuses bad moderation calls with typed errors", async function () {
    const cases: Array<[string, unknown, { userId: string; roles?: string[] }, number, string]> = [
      ["no role", { actionId: "a1", type: "mute", userId: "u" }, { userId: "player" }, 403, "FORBIDDEN"],
      ["unknown type", { actionId: "a2", type: "vaporize", userId: "u" }, MOD, 400, "INVALID"],
      ["missing userId", { actionId: "a3", type: "ban" }, MOD, 400, "INVALID"],
      ["missing seq", { actionId: "a4", type: "delete", conversationId: "channel:x" }, MOD, 400, "INVALID"],
      ["wrong type of field", { actionId: "a5", type: "mute", userId: 42 }, MOD, 400, "INVALID"],
      ["id outside the alphabet", { actionId: "a6", type: "mute", userId: "ro bert" }, MOD, 400, "INVALID"],
      ["bad actionId", { actionId: "a 7", type: "mute", userId: "u" }, MOD, 400, "INVALID"],
      ["oversize reason", { actionId: "a8", type: "mute", userId: "u", reason: "x".repeat(501) }, MOD, 400, "INVALID"],
      ["unknown field", { actionId: "a9", type: "mute", userId: "u", power: 9000 }, MOD, 400, "INVALID"],
      ["bad conversation id", { actionId: "a10", type: "kick", userId: "u", conversationId: "room:1" }, MOD, 400, "INVALID"],
      ["not JSON", "{not json", MOD, 400, "INVALID"],
    ];
    for (const [what, body, as, status, code] of cases) {
      const answer = await http(a(), "POST", "/v1/moderation/actions", as, body);
      assert.deepEqual([answer.status, answer.body.error?.code], [status, code], what);
    }
    assert.equal((await http(a(), "GET", "/v1/moderation/actions?userId=bad%20id", MOD)).status, 400);
    assert.equal((await http(a(), "GET", "/v1/moderation/actions?limit=100000", MOD)).status, 400);
    assert.equal((await http(a(), "PUT", "/v1/users/u1/blocks/u1", { userId: "u1" })).status, 400);
  });

  it("keeps sanctions taken before and during a rolling restart once every node is new", async function () {
    const conversationId = `channel:${unique("restart")}`;
    const [mutedUser, bannedUser] = [unique("muted"), unique("banned")];
    const duringRestart: string[] = [];
    await act({ type: "mute", userId: mutedUser });
    await act({ type: "ban", userId: bannedUser, conversationId });
    for (const index of [1, 0]) {
      const stopping = cluster.nodes[index]!.stop();
      // Taken through the node that stays up while this one drains.
      const user = unique("during");
      assert.equal((await act({ type: "mute", userId: user }, MOD, cluster.nodes[1 - index])).status, 200);
      duringRestart.push(user);
      await stopping;
      const replacement = await cluster.addNode();
      cluster.nodes.splice(cluster.nodes.indexOf(replacement), 1);
      cluster.nodes.splice(index, 1, replacement);
    }
    for (const node of [a(), b()]) {
      for (const user of [mutedUser, ...duringRestart]) {
        const muted = keep(await seat(node, conversationId, user));
        assert.equal((await refusalOf(send(muted, "hello?"))).code, "FORBIDDEN", `${user} stays muted on the new node`);
      }
      await assert.rejects(seat(node, conversationId, bannedUser), (error: Error) => error.message.startsWith("FORBIDDEN"));
    }
  });
});
