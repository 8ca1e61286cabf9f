/**
 * Security contract (issue #10): a join is authorised against the room it seats the client in,
 * whatever the join method or its options say; one user cannot exhaust a node; strangers cannot
 * hold sockets open or flood the logs; text cannot hide or reverse what others see. Real node
 * processes, real WebSockets; the cluster cases on real Redis and the MongoDB-wire store.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { Client } from "@colyseus/sdk";
import type { Redis } from "ioredis";
import { startCluster, type Cluster } from "../../deploy/cluster.ts";
import { isolatedRedis, joinVia, leave, metricOf, storedMessages, type Reply, type Seated } from "../support/cluster-helpers.ts";
import { startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { waitFor } from "../../deploy/wait-for.ts";

const generous = { SEND_RATE_PER_SEC: "10000", SEND_BURST: "10000", REQUEST_RATE_PER_SEC: "10000" };

function send(seated: Seated, text: string): Promise<Reply> {
  return seated.room.request("send", { clientMsgId: unique("m"), text }, { timeout: 15_000 });
}

/** The message of a refused join (it starts with the code), or fail when the join was accepted. */
async function joinRefusal(join: Promise<unknown>): Promise<string> {
  try {
    const room = (await join) as { leave?: () => Promise<unknown> };
    await room.leave?.().catch(() => undefined);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail("the join was accepted");
}

/** Record what a seated client receives, beyond `message`. */
function received(seated: Seated, type: string): unknown[] {
  return seated.received.get(type) ?? [];
}

function dmOf(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

async function setMember(node: { httpUrl: string }, groupId: string, userId: string, member: boolean): Promise<void> {
  const response = await fetch(`${node.httpUrl}/v1/groups/${groupId}/members/${userId}?userId=ops&roles=service`, { method: member ? "PUT" : "DELETE" });
  assert.equal(response.status, 200, await response.text());
}

/**
 * The three authorisation attacks, against a set of nodes: `roomNode` hosts the conversation,
 * `attackNode` is where the intruder knocks (the same node, or another).
 */
function authorisationAttacks(setup: () => { roomNode: () => NodeProcess; attackNode: () => NodeProcess; nodes: () => NodeProcess[] }) {
  const seated: Seated[] = [];
  const seat = async (join: Promise<Seated>) => {
    const one = await join;
    seated.push(one);
    return one;
  };
  afterEach(async () => Promise.all(seated.splice(0).map(leave)));

  it("refuses FORBIDDEN a joinById into a dm's room whose options name a public channel, and leaves no seat, no seq and no migrate", async function () {
    const { roomNode, attackNode } = setup();
    const [a, b] = [unique("a"), unique("b")];
    const dm = dmOf(a, b);
    const alice = await seat(joinVia(roomNode(), dm, a));
    const bob = await seat(joinVia(roomNode(), dm, b));
    const first = await send(alice, "private");
    const mallory = unique("mallory");

    const refusal = await joinRefusal(new Client(attackNode().httpUrl).joinById(alice.room.roomId, { conversationId: "channel:lobby", userId: mallory }));
    assert.match(refusal, /^FORBIDDEN/);

    const second = await send(bob, "still private");
    assert.equal(second.seq, first.seq + 1, "the attack took no seq");
    await waitFor(() => alice.messages.length === 2, { what: "alice to receive both dm messages" });
    assert.deepEqual(
      alice.messages.map((message) => message.senderId),
      [a, b],
      "nobody else wrote into the dm",
    );
    assert.equal(received(alice, "migrate").length + received(bob, "migrate").length, 0, "nobody was moved");
    const stored = await storedMessages(roomNode(), dm, a);
    assert.deepEqual(
      stored.map((message) => message.text),
      ["private", "still private"],
    );
  });

  it("refuses a member removed from a group who comes back by joinById with a channel's options", async function () {
    const { roomNode, attackNode } = setup();
    const groupId = unique("g");
    const [alice, mallory] = [unique("alice"), unique("mallory")];
    await setMember(roomNode(), groupId, alice, true);
    await setMember(roomNode(), groupId, mallory, true);
    const aliceSeat = await seat(joinVia(roomNode(), `group:${groupId}`, alice));
    const mallorySeat = await seat(joinVia(attackNode(), `group:${groupId}`, mallory));
    await setMember(roomNode(), groupId, mallory, false);
    assert.equal(await mallorySeat.left, 4403, "the removed member is closed with 4403");

    const byId = await joinRefusal(new Client(attackNode().httpUrl).joinById(aliceSeat.room.roomId, { conversationId: "channel:lobby", userId: mallory }));
    assert.match(byId, /^FORBIDDEN/);
    const byName = await joinRefusal(new Client(attackNode().httpUrl).joinOrCreate("chat", { conversationId: `group:${groupId}`, userId: mallory }));
    assert.match(byName, /^FORBIDDEN/);
    const reply = await send(aliceSeat, "members only");
    assert.equal(reply.seq, 1);
    assert.equal(received(aliceSeat, "migrate").length, 0);
  });

  it("never makes a second room for a live conversation on create: members keep sending, nobody is moved", async function () {
    const { roomNode, attackNode, nodes } = setup();
    const chatRooms = async () => (await Promise.all(nodes().map((node) => metricOf(node, "parley_node_rooms", 'room="chat"')))).reduce((sum, count) => sum + count, 0);
    const conversationId = `channel:${unique("c")}`;
    const alice = await seat(joinVia(roomNode(), conversationId, unique("alice")));
    const first = await send(alice, "before");
    const roomsBefore = await chatRooms();

    const intruder = await new Client(attackNode().httpUrl).create("chat", { conversationId, userId: unique("mallory") });
    try {
      assert.equal(intruder.roomId, alice.room.roomId, "create seats the caller in the conversation's one room");
      const after = await send(alice, "after");
      assert.equal(after.seq, first.seq + 1);
      assert.equal(received(alice, "migrate").length, 0);
      assert.equal(await chatRooms(), roomsBefore, "no room was made");
    } finally {
      await intruder.leave().catch(() => undefined);
    }
    const dm = dmOf(unique("a"), unique("b"));
    assert.match(await joinRefusal(new Client(attackNode().httpUrl).create("chat", { conversationId: dm, userId: unique("mallory") })), /^FORBIDDEN/);
  });

  it("refuses a joinById into another user's inbox", async function () {
    const { roomNode, attackNode } = setup();
    const owner = unique("owner");
    const inbox = await seat(joinVia(roomNode(), "", owner, "inbox"));
    assert.match(await joinRefusal(new Client(attackNode().httpUrl).joinById(inbox.room.roomId, { userId: unique("mallory") })), /^FORBIDDEN/);
    assert.equal(received(inbox, "migrate").length, 0);
  });

  it("seats nobody with a member's reconnection token", async function () {
    const { roomNode, attackNode } = setup();
    const [a, b] = [unique("a"), unique("b")];
    const dm = dmOf(a, b);
    const alice = await seat(joinVia(roomNode(), dm, a));
    await assert.rejects(new Client(attackNode().httpUrl).reconnect(alice.room.reconnectionToken), (error: Error) => error.message.startsWith("INVALID"));
    const reply = await send(alice, "still here");
    assert.equal(reply.seq, 1, "the member's connection is untouched");
  });
}

describe("join authorisation on one node without Redis", function () {
  this.timeout(30_000);
  let node: NodeProcess;
  before(async () => {
    node = await startNode(generous);
  });
  after(async () => node?.stop());

  authorisationAttacks(() => ({
    roomNode: () => node,
    attackNode: () => node,
    nodes: () => [node],
  }));

  it("counts and logs refused joins at warn with the user id", async function () {
    assert.ok((await metricOf(node, "parley_joins_total", 'outcome="FORBIDDEN"')) >= 4);
    assert.ok((await metricOf(node, "parley_matchmaking_create_redirected_total", 'room="chat"')) >= 2);
    const lines = node
      .output()
      .split("\n")
      .filter((line) => line.includes('"event":"join_forbidden"'));
    assert.ok(lines.length > 0, "a warn line for refused joins");
    const line = JSON.parse(lines[0]!) as { level: number; userId?: string };
    assert.equal(line.level, 40);
    assert.match(line.userId ?? "", /^mallory/);
  });
});

describe("join authorisation across two nodes (Redis, MongoDB-wire store)", function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let redis: Redis;
  before(async function () {
    const isolated = await isolatedRedis();
    redis = isolated.redis;
    cluster = await startCluster({ nodes: 2, redisUrl: isolated.url, mongoUrl: process.env.MONGO_URL, env: generous });
  });
  after(async function () {
    await cluster?.stop();
    redis?.disconnect();
  });

  describe("the intruder on the room's node", function () {
    authorisationAttacks(() => ({ roomNode: () => cluster.nodes[0]!, attackNode: () => cluster.nodes[0]!, nodes: () => cluster.nodes }));
  });
  describe("the intruder through the other node", function () {
    authorisationAttacks(() => ({ roomNode: () => cluster.nodes[0]!, attackNode: () => cluster.nodes[1]!, nodes: () => cluster.nodes }));
  });
});

describe("per-user bounds on one node", function () {
  this.timeout(30_000);
  let node: NodeProcess;
  const seated: Seated[] = [];
  const seat = async (join: Promise<Seated>) => {
    const one = await join;
    seated.push(one);
    return one;
  };
  before(async () => {
    node = await startNode({
      ...generous,
      MAX_CONNECTIONS_PER_USER: "4",
      MAX_CONVERSATIONS_PER_USER: "3",
      JOINS_PER_MIN_PER_USER: "8",
      ROOMS_PER_MIN_PER_USER: "3",
      ROOM_IDLE_MS: "600000",
      COLYSEUS_SEAT_RESERVATION_TIME: "2",
    });
  });
  afterEach(async () => Promise.all(seated.splice(0).map(leave)));
  after(async () => node?.stop());

  /** Another user joins and sends: a bound on one user must not touch anyone else. */
  async function othersUnaffected(conversationId: string): Promise<void> {
    const other = await seat(joinVia(node, conversationId, unique("other")));
    await send(other, "unaffected");
  }

  it("refuses LIMIT_EXCEEDED past the connections one user may hold, and admits again once one is left", async function () {
    const user = unique("u");
    const conversationId = `channel:${unique("c")}`;
    const before = await metricOf(node, "parley_user_limit_refusals_total", 'limit="connections"');
    const seats = [];
    for (let i = 0; i < 4; i++) seats.push(await seat(joinVia(node, conversationId, user)));
    assert.match(await joinRefusal(joinVia(node, conversationId, user)), /^LIMIT_EXCEEDED/);
    assert.equal(await metricOf(node, "parley_user_limit_refusals_total", 'limit="connections"'), before + 1);
    await othersUnaffected(conversationId);
    await leave(seats[0]!);
    await seat(joinVia(node, conversationId, user));
  });

  it("refuses LIMIT_EXCEEDED past the distinct conversations one user may be in", async function () {
    const user = unique("u");
    const conversations = [0, 1, 2, 3].map(() => `channel:${unique("c")}`);
    // Opened by others, so this user's room creations are not what stops them.
    for (const id of conversations) await seat(joinVia(node, id, unique("opener")));
    for (const id of conversations.slice(0, 3)) await seat(joinVia(node, id, user));
    assert.match(await joinRefusal(joinVia(node, conversations[3]!, user)), /^LIMIT_EXCEEDED/);
    assert.ok((await metricOf(node, "parley_user_limit_refusals_total", 'limit="conversations"')) >= 1);
    await seat(joinVia(node, conversations[0]!, user)); // a second connection to a conversation it is in
    await othersUnaffected(conversations[3]!);
  });

  it("refuses RATE_LIMITED past the joins one user may start a minute", async function () {
    const user = unique("u");
    const conversationId = `channel:${unique("c")}`;
    await seat(joinVia(node, conversationId, unique("opener")));
    for (let i = 0; i < 8; i++) await leave(await joinVia(node, conversationId, user));
    assert.match(await joinRefusal(joinVia(node, conversationId, user)), /^RATE_LIMITED: .*retry after \d+ ms/);
    assert.ok((await metricOf(node, "parley_user_limit_refusals_total", 'limit="reservations"')) >= 1);
    await othersUnaffected(conversationId);
  });

  it("refuses RATE_LIMITED past the rooms one user's joins may create a minute, and still seats them in live rooms", async function () {
    const user = unique("u");
    for (let i = 0; i < 3; i++) await leave(await joinVia(node, `channel:${unique("new")}`, user));
    assert.match(await joinRefusal(joinVia(node, `channel:${unique("new")}`, user)), /^RATE_LIMITED/);
    assert.ok((await metricOf(node, "parley_user_limit_refusals_total", 'limit="rooms"')) >= 1);
    const live = `channel:${unique("c")}`;
    await seat(joinVia(node, live, unique("opener")));
    await seat(joinVia(node, live, user));
  });

  it("lets a room created for a reservation nobody used go when the reservation expires, not after the idle delay", async function () {
    const conversationId = `channel:${unique("reserved")}`;
    const roomsBefore = await metricOf(node, "parley_node_rooms", 'room="chat"');
    const response = await fetch(`${node.httpUrl}/matchmake/joinOrCreate/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ conversationId, userId: unique("ghost") }),
    });
    assert.equal(response.status, 200, await response.text());
    assert.equal(await metricOf(node, "parley_node_rooms", 'room="chat"'), roomsBefore + 1);
    // ROOM_IDLE_MS is ten minutes here: the room going at all shows the reservation's expiry took it.
    await waitFor(async () => (await metricOf(node, "parley_node_rooms", 'room="chat"')) === roomsBefore, { timeoutMs: 20_000, what: "the unused room to go" });
  });
});

describe("connection guards and text safety on one node", function () {
  this.timeout(30_000);
  let node: NodeProcess;
  before(async () => {
    node = await startNode({ ...generous, HANDSHAKE_TIMEOUT_MS: "500" });
  });
  after(async () => node?.stop());

  it("closes TCP connections that never complete a request or an upgrade, and still serves others", async function () {
    const before = await metricOf(node, "parley_transport_connections_refused_total", 'reason="handshake_timeout"');
    const idle: Socket[] = [];
    const closed = Array.from({ length: 20 }, () => {
      const socket = connect({ port: node.port, host: "127.0.0.1" });
      idle.push(socket);
      socket.on("error", () => undefined);
      return new Promise<void>((resolve) => socket.once("close", () => resolve()));
    });
    try {
      await Promise.all(closed);
    } finally {
      for (const socket of idle) socket.destroy();
    }
    assert.equal(await metricOf(node, "parley_transport_connections_refused_total", 'reason="handshake_timeout"'), before + 20);
    assert.equal((await fetch(`${node.httpUrl}/healthz`)).status, 200);
  });

  it("answers oversized frames from strangers with a closed socket, one warn line each without a stack, and a metric", async function () {
    const sockets = 20;
    const closes = await Promise.all(
      Array.from({ length: sockets }, () => {
        const socket = new WebSocket(`ws://127.0.0.1:${node.port}/`);
        return new Promise<number>((resolve) => {
          socket.onopen = () => socket.send(new Uint8Array(70 * 1024));
          socket.onclose = (event) => resolve(event.code);
          socket.onerror = () => undefined;
        });
      }),
    );
    assert.ok(
      closes.every((code) => code === 1009),
      `closed for message too big: ${closes.join(",")}`,
    );
    await waitFor(async () => (await metricOf(node, "parley_transport_connections_refused_total", 'reason="unsupported_message_length"')) === sockets, { what: "every oversize frame counted" });
    const lines = node
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"));
    assert.equal(lines.filter((line) => line.includes('"level":50')).length, 0, "no error-level line");
    assert.ok(!lines.some((line) => /\\n\s+at /.test(line)), "no stack trace");
    const warned = lines.filter((line) => line.includes('"event":"websocket_error"'));
    assert.ok(warned.length >= 1 && warned.length <= sockets, `one warn line per connection at most, got ${warned.length}`);
  });

  it("masks profanity, look-alike spellings included, marks the message filtered, and keeps clean words that contain a bad one", async function () {
    const conversationId = `channel:${unique("filter")}`;
    const room = await new Client(node.httpUrl).joinOrCreate("chat", { conversationId, userId: unique("u") });
    room.onMessage("*", () => undefined);
    try {
      const masked = (await room.request("send", { clientMsgId: unique("m"), text: "you are a f\u0443ck1ng idiot" })) as Reply;
      const clean = (await room.request("send", { clientMsgId: unique("m"), text: "the cockpit of Scunthorpe's class assignment" })) as Reply;
      const page = (await room.request("sync", { afterSeq: masked.seq - 1 })) as { messages: Array<{ seq: number; text: string; filtered?: true }> };
      const [first, second] = page.messages;
      assert.equal(first!.filtered, true);
      assert.doesNotMatch(first!.text, /f.ck/i);
      assert.match(first!.text, /^you are a \*{4}\S* idiot$/, "the offending part is masked, the rest kept");
      assert.deepEqual([second!.seq, second!.text, second!.filtered], [clean.seq, "the cockpit of Scunthorpe's class assignment", undefined]);
    } finally {
      await room.leave().catch(() => undefined);
    }
  });

  it("refuses text made only of invisible characters as INVALID, and removes unpaired bidi overrides from text and names", async function () {
    const conversationId = `channel:${unique("text")}`;
    const room = await new Client(node.httpUrl).joinOrCreate("chat", { conversationId, userId: unique("u"), name: "\u202Emallory" });
    room.onMessage("*", () => undefined);
    try {
      const refusal = await room.request("send", { clientMsgId: unique("m"), text: "\u200B\u200C\u200D\u2060\uFEFF" }).then(
        () => assert.fail("accepted"),
        (error: { reason: { code: string } }) => error.reason,
      );
      assert.equal(refusal.code, "INVALID");
      const reply = (await room.request("send", { clientMsgId: unique("m"), text: "gnp.\u202Eexe" })) as Reply;
      const page = (await room.request("sync", { afterSeq: reply.seq - 1 })) as { messages: Array<{ text: string; senderName: string }> };
      assert.deepEqual(
        page.messages.map((message) => [message.text, message.senderName]),
        [["gnp.exe", "mallory"]],
      );
      assert.ok((await metricOf(node, "parley_chat_bidi_controls_removed_total")) >= 1);
    } finally {
      await room.leave().catch(() => undefined);
    }
  });
});

describe("the frame limit on one node (MAX_FRAMES_PER_SEC)", function () {
  this.timeout(30_000);
  const limit = 20;
  let node: NodeProcess;
  before(async () => {
    node = await startNode({ ...generous, MAX_FRAMES_PER_SEC: String(limit) });
  });
  after(async () => node?.stop());

  it("keeps a client that sends under the limit for seconds on end, with every send acknowledged in order", async function () {
    // Rooms tick once a minute; the limit's one-second window must still roll over each second.
    const seated = await joinVia(node, `channel:${unique("paced")}`, unique("u"));
    let closedWith: number | undefined;
    void seated.left.then((code) => (closedWith = code));
    const sends = limit * 3;
    const replies: Promise<Reply>[] = [];
    await new Promise<void>((resolve) => {
      const pace = setInterval(() => {
        replies.push(send(seated, `paced ${replies.length}`));
        if (replies.length === sends) resolve(clearInterval(pace));
      }, 2000 / limit);
    });
    const seqs = (await Promise.all(replies)).map((reply) => reply.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => seqs[0]! + i),
    );
    assert.equal(closedWith, undefined, "the paced client was not closed");
    await leave(seated);
  });

  it("closes a client that floods past the limit within a second, and keeps what it had acknowledged", async function () {
    const conversationId = `channel:${unique("flood")}`;
    const flooder = await joinVia(node, conversationId, unique("flooder"));
    const witness = await joinVia(node, conversationId, unique("witness"));
    const first = await send(flooder, "before the flood");
    for (let i = 0; i < limit * 3; i++) flooder.room.send("typing", {});
    assert.equal(await flooder.left, 4002, "closed with an error");
    const next = await send(witness, "after the flood");
    assert.equal(next.seq, first.seq + 1);
    const page = (await witness.room.request("sync", { afterSeq: 0 })) as { messages: Array<{ text: string }> };
    assert.deepEqual(
      page.messages.map((message) => message.text),
      ["before the flood", "after the flood"],
    );
    await leave(witness);
  });
});
