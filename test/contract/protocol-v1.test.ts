/**
 * Protocol v1 contract (docs/protocol.md), pinned with stock @colyseus/sdk 0.18 clients over
 * real sockets against the real entrypoint started as a process.
 */
import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { sdkClient, signToken, startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { waitFor } from "../../deploy/wait-for.ts";

type Message = { conversationId: string; seq: number; senderId: string; senderName: string; text: string; sentAt: string; clientMsgId: string };

/** Join as a development identity and record every server message. */
async function join(node: NodeProcess, userId: string, conversationId: string, name = userId) {
  const room = await sdkClient(node).joinOrCreate("chat", { conversationId, userId, name });
  return record(room);
}

function record(room: Room) {
  const inbox = { message: [] as Message[], typing: [] as unknown[], read: [] as unknown[], migrate: [] as unknown[], error: [] as unknown[] };
  room.onMessage("message", (m: Message) => inbox.message.push(m));
  room.onMessage("typing", (m: unknown) => inbox.typing.push(m));
  room.onMessage("read", (m: unknown) => inbox.read.push(m));
  room.onMessage("migrate", (m: unknown) => inbox.migrate.push(m));
  room.onMessage("error", (m: unknown) => inbox.error.push(m));
  return { room, inbox };
}

/** The refusal a rejected request carries (`error.reason`), or fail. */
async function refusalOf(promise: Promise<unknown>): Promise<{ code: string; message: string; retryAfterMs?: number }> {
  try {
    await promise;
  } catch (error) {
    const reason = (error as { reason?: { code: string; message: string } }).reason;
    assert.ok(reason, `expected a refusal with a reason, got ${String(error)}`);
    return reason;
  }
  assert.fail("expected the request to be refused");
}

async function joinError(promise: Promise<unknown>): Promise<{ message: string; code: number }> {
  try {
    await promise;
  } catch (error) {
    return error as { message: string; code: number };
  }
  assert.fail("expected the join to be refused");
}

describe("protocol v1 with development identities", function () {
  let node: NodeProcess;
  before(async () => {
    node = await startNode({ SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000", REQUEST_RATE_PER_SEC: "1000" });
  });
  after(async () => node?.stop());

  it("delivers a sent message to everyone in the room, the sender included, with seq 1, 2, 3", async () => {
    const conversationId = `channel:${unique()}`;
    const alice = await join(node, "alice", conversationId, "Alice");
    const bob = await join(node, "bob", conversationId);
    assert.equal(alice.room.roomId, bob.room.roomId, "one room per conversation");

    const replies = [];
    for (const [index, text] of ["one", "two", "three"].entries()) {
      replies.push(await alice.room.request("send", { clientMsgId: `m${index}`, text }));
    }
    assert.deepEqual(
      replies.map((r) => r.seq),
      [1, 2, 3],
    );
    assert.ok(replies.every((r) => r.duplicate === false && !Number.isNaN(Date.parse(r.sentAt))));

    await waitFor(() => bob.inbox.message.length === 3 && alice.inbox.message.length === 3, { what: "three deliveries" });
    assert.deepEqual(
      bob.inbox.message.map((m) => [m.seq, m.text, m.senderId, m.senderName, m.clientMsgId]),
      [
        [1, "one", "alice", "Alice", "m0"],
        [2, "two", "alice", "Alice", "m1"],
        [3, "three", "alice", "Alice", "m2"],
      ],
    );
    assert.deepEqual(alice.inbox.message, bob.inbox.message);
    assert.equal(bob.inbox.message[0]!.conversationId, conversationId);
    assert.equal(bob.inbox.message[0]!.sentAt, replies[0].sentAt);
  });

  it("answers a resent clientMsgId with the first reply and duplicate: true, delivering nothing new", async () => {
    const conversationId = `channel:${unique()}`;
    const alice = await join(node, "alice", conversationId);
    const first = await alice.room.request("send", { clientMsgId: "same", text: "hello" });
    const again = await alice.room.request("send", { clientMsgId: "same", text: "hello, edited" });
    assert.deepEqual(again, { ...first, duplicate: true });
    const next = await alice.room.request("send", { clientMsgId: "other", text: "next" });
    assert.equal(next.seq, first.seq + 1, "no seq was spent on the duplicate");
    const history = await alice.room.request("history", {});
    assert.deepEqual(
      history.messages.map((m: Message) => m.text),
      ["hello", "next"],
    );
  });

  it("normalises text to NFC and trims it", async () => {
    const alice = await join(node, "alice", `channel:${unique()}`);
    await alice.room.request("send", { clientMsgId: "nfc", text: "  cafe\u0301  " });
    const { messages } = await alice.room.request("history", {});
    assert.equal(messages[0].text, "caf\u00e9");
  });

  it("refuses empty, oversize and malformed sends with typed reasons and keeps the connection", async () => {
    const alice = await join(node, "alice", `channel:${unique()}`);
    assert.equal((await refusalOf(alice.room.request("send", { clientMsgId: "e", text: "   " }))).code, "INVALID");
    assert.equal((await refusalOf(alice.room.request("send", { clientMsgId: "l", text: "x".repeat(2001) }))).code, "TOO_LONG");
    assert.equal((await alice.room.request("send", { clientMsgId: "l", text: "😀".repeat(2000) })).seq, 1, "2,000 emoji are 2,000 characters, not 4,000 UTF-16 units");
    assert.equal((await refusalOf(alice.room.request("send", { clientMsgId: "bad id!", text: "x" }))).code, "INVALID");
    assert.equal((await refusalOf(alice.room.request("send", { clientMsgId: 5, text: "x" }))).code, "INVALID");
    assert.equal((await refusalOf(alice.room.request("send", "not an object"))).code, "INVALID");
    assert.equal((await refusalOf(alice.room.request("history", { limit: 101 }))).code, "INVALID");
    assert.equal((await refusalOf(alice.room.request("sync", {}))).code, "INVALID");
    assert.equal((await refusalOf(alice.room.request("no-such-request", {}))).code, "INVALID");
    const ok = await alice.room.request("send", { clientMsgId: "fine", text: "still here" });
    assert.equal(ok.seq, 2, "the 2,000-emoji message was seq 1, this is seq 2");
    assert.equal(alice.room.connection.isOpen, true);
  });

  it("pages history newest-first below beforeSeq and sync oldest-first above afterSeq", async () => {
    const alice = await join(node, "alice", `channel:${unique()}`);
    for (let i = 1; i <= 7; i++) await alice.room.request("send", { clientMsgId: `h${i}`, text: `t${i}` });
    const newest = await alice.room.request("history", { limit: 3 });
    assert.deepEqual(
      newest.messages.map((m: Message) => m.seq),
      [5, 6, 7],
    );
    assert.equal(newest.hasMore, true);
    const older = await alice.room.request("history", { beforeSeq: 5, limit: 10 });
    assert.deepEqual(
      older.messages.map((m: Message) => m.seq),
      [1, 2, 3, 4],
    );
    assert.equal(older.hasMore, false);
    const synced = await alice.room.request("sync", { afterSeq: 2, limit: 3 });
    assert.deepEqual(
      synced.messages.map((m: Message) => m.seq),
      [3, 4, 5],
    );
    assert.equal(synced.hasMore, true);
    const rest = await alice.room.request("sync", { afterSeq: 5 });
    assert.deepEqual(
      rest.messages.map((m: Message) => m.seq),
      [6, 7],
    );
    assert.equal(rest.hasMore, false);
  });

  it("tells others about a read receipt and typing, not the reader or typist", async () => {
    const conversationId = `channel:${unique()}`;
    const alice = await join(node, "alice", conversationId, "Alice");
    const bob = await join(node, "bob", conversationId);
    const { seq } = await alice.room.request("send", { clientMsgId: "r1", text: "read me" });
    assert.deepEqual(await bob.room.request("read", { seq }), {});
    await waitFor(() => alice.inbox.read.length === 1, { what: "read receipt" });
    assert.deepEqual(alice.inbox.read[0], { userId: "bob", seq });
    assert.equal((await refusalOf(bob.room.request("read", { seq: seq + 10 }))).code, "INVALID");

    alice.room.send("typing");
    await waitFor(() => bob.inbox.typing.length === 1, { what: "typing" });
    assert.deepEqual(bob.inbox.typing[0], { userId: "alice", name: "Alice" });
    // A round trip after the typing frame proves the typist was not told.
    await alice.room.request("history", { limit: 1 });
    assert.equal(alice.inbox.typing.length, 0);
    assert.equal(bob.inbox.read.length, 0);
  });

  it("serves a send made as a plain message (an SDK without room.request): the echo is the ack, a refusal comes back as an error naming the send", async () => {
    const conversationId = `channel:${unique()}`;
    const alice = await join(node, "alice", conversationId);
    alice.room.send("send", { clientMsgId: "plain-1", text: "no request here" });
    await waitFor(() => alice.inbox.message.length === 1, { what: "the sender's own message back" });
    assert.deepEqual([alice.inbox.message[0]!.clientMsgId, alice.inbox.message[0]!.seq], ["plain-1", 1]);
    alice.room.send("send", { clientMsgId: "plain-2", text: "   " });
    await waitFor(() => alice.inbox.error.length === 1, { what: "an error message for the refused send" });
    assert.deepEqual(alice.inbox.error[0], { code: "INVALID", message: "text is empty (or shows nothing)", request: "send", clientMsgId: "plain-2" });
    assert.equal((await alice.room.request("send", { clientMsgId: "plain-3", text: "still connected" })).seq, 2);
  });

  it("answers an unknown fire-and-forget message with an error message, not a disconnect", async () => {
    const alice = await join(node, "alice", `channel:${unique()}`);
    alice.room.send("shout", { text: "hi" });
    await waitFor(() => alice.inbox.error.length === 1, { what: "error message" });
    assert.equal((alice.inbox.error[0] as { code: string }).code, "INVALID");
    assert.equal((await alice.room.request("send", { clientMsgId: "after", text: "ok" })).seq, 1);
  });

  it("keeps a dm private to its two users and refuses non-canonical ids", async () => {
    const conversationId = `dm:amy${unique()}:zoe${unique()}`;
    const [, a, b] = conversationId.split(":") as [string, string, string];
    const amy = await join(node, a, conversationId);
    const zoe = await join(node, b, conversationId);
    assert.equal(amy.room.roomId, zoe.room.roomId);
    const eve = await joinError(sdkClient(node).joinOrCreate("chat", { conversationId, userId: "eve" }));
    assert.equal(eve.code, 403);
    assert.match(eve.message, /^FORBIDDEN/);
    const swapped = await joinError(sdkClient(node).joinOrCreate("chat", { conversationId: `dm:${b}:${a}`, userId: a }));
    assert.equal(swapped.code, 400);
    assert.match(swapped.message, /^INVALID/);
    const history = await fetch(`${node.httpUrl}/v1/conversations/${conversationId}/messages?userId=eve`);
    assert.equal(history.status, 403);
    assert.equal((await json(history)).error.code, "FORBIDDEN");
  });

  it("refuses unknown conversations and missing identities at join", async () => {
    for (const conversationId of ["room:x", "channel:", 42, undefined]) {
      const error = await joinError(sdkClient(node).joinOrCreate("chat", { conversationId, userId: "alice" }));
      assert.equal(error.code, 400);
      assert.match(error.message, /^INVALID/);
    }
    const anonymous = await joinError(sdkClient(node).joinOrCreate("chat", { conversationId: "channel:lobby" }));
    assert.equal(anonymous.code, 401);
    assert.match(anonymous.message, /^UNAUTHENTICATED/);
  });

  it("serves history over HTTP to a member, with typed errors for bad queries", async () => {
    const conversationId = `channel:${unique()}`;
    const alice = await join(node, "alice", conversationId);
    for (let i = 1; i <= 3; i++) await alice.room.request("send", { clientMsgId: `x${i}`, text: `m${i}` });
    const page = await json(await fetch(`${node.httpUrl}/v1/conversations/${conversationId}/messages?userId=bob&limit=2`));
    assert.deepEqual(
      page.messages.map((m: Message) => m.seq),
      [2, 3],
    );
    assert.equal(page.hasMore, true);
    const after = await json(await fetch(`${node.httpUrl}/v1/conversations/${conversationId}/messages?userId=bob&afterSeq=1`));
    assert.deepEqual(
      after.messages.map((m: Message) => m.text),
      ["m2", "m3"],
    );
    const bad = await fetch(`${node.httpUrl}/v1/conversations/${conversationId}/messages?userId=bob&limit=0`);
    assert.equal(bad.status, 400);
    assert.equal((await json(bad)).error.code, "INVALID");
    const anonymous = await fetch(`${node.httpUrl}/v1/conversations/${conversationId}/messages`);
    assert.equal(anonymous.status, 401);
  });

  it("serves health, readiness and Prometheus metrics", async () => {
    assert.equal((await fetch(`${node.httpUrl}/healthz`)).status, 200);
    const ready = await fetch(`${node.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal((await json(ready)).ready, true);
    const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
    for (const name of [
      "parley_chat_messages_accepted_total",
      "parley_chat_requests_refused_total",
      "parley_chat_request_duration_seconds",
      "parley_chat_fanout_recipients",
      "parley_node_rooms",
      "parley_node_clients",
      "nodejs_eventloop_lag_seconds",
    ]) {
      assert.match(metrics, new RegExp(`^${name}`, "m"), `metric ${name}`);
    }
    assert.match(metrics, /^parley_chat_requests_refused_total\{request="send",code="TOO_LONG"[,}].* [1-9]/m);
  });

  it("logs with room and conversation context and never logs message bodies", async () => {
    const conversationId = `channel:${unique()}`;
    const alice = await join(node, "alice", conversationId);
    await alice.room.request("send", { clientMsgId: "secret", text: "the secret body text" });
    await waitFor(() => node.output().includes(conversationId), { what: "a log line naming the conversation" });
    const lines = node
      .output()
      .trim()
      .split("\n")
      .filter((line) => line.includes(conversationId));
    assert.ok(lines.some((line) => JSON.parse(line).roomId === alice.room.roomId));
    assert.doesNotMatch(node.output(), /the secret body text/);
  });
});

describe("protocol v1 rate limits", function () {
  let node: NodeProcess;
  before(async () => {
    node = await startNode({ SEND_RATE_PER_SEC: "2", SEND_BURST: "0" });
  });
  after(async () => node?.stop());

  it("refuses sends over the per-user rate with RATE_LIMITED and retryAfterMs, then accepts again", async () => {
    const alice = await join(node, "alice", `channel:${unique()}`);
    const outcomes = await Promise.allSettled([1, 2, 3, 4].map((i) => alice.room.request("send", { clientMsgId: `r${i}`, text: "flood" })));
    const refused = outcomes.filter((o) => o.status === "rejected").map((o) => (o as PromiseRejectedResult).reason.reason);
    assert.equal(refused.length, 2);
    for (const reason of refused) {
      assert.equal(reason.code, "RATE_LIMITED");
      assert.ok(reason.retryAfterMs > 0 && reason.retryAfterMs <= 1000, `retryAfterMs ${reason.retryAfterMs}`);
    }
    await waitFor(async () => (await alice.room.request("send", { clientMsgId: "later", text: "ok" }).catch(() => undefined))?.seq === 3, {
      what: "the limit to refill",
      timeoutMs: 5000,
      intervalMs: 200,
    });
  });
});

describe("protocol v1 with JWT identities", function () {
  const secret = "a-test-secret-that-is-at-least-32-bytes-long";
  let node: NodeProcess;
  before(async () => {
    node = await startNode({ JWT_SECRET: secret });
  });
  after(async () => node?.stop());

  it("seats a valid token as its sub and name", async () => {
    const token = await signToken(secret, { sub: "carol", name: "Carol" });
    const room = await sdkClient(node, token).joinOrCreate("chat", { conversationId: `channel:${unique()}`, userId: "mallory" });
    const { inbox } = record(room);
    await room.request("send", { clientMsgId: "j1", text: "hi" });
    await waitFor(() => inbox.message.length === 1);
    assert.equal(inbox.message[0]!.senderId, "carol", "the token, not the join options, names the sender");
    assert.equal(inbox.message[0]!.senderName, "Carol");
  });

  const refusedTokens: Array<[string, () => Promise<string | undefined>]> = [
    ["a missing token", async () => undefined],
    ["an expired token", () => signToken(secret, { sub: "carol" }, Math.floor(Date.now() / 1000) - 60)],
    ["a token signed with the wrong key", () => signToken("another-secret-that-is-also-32-bytes-long!!", { sub: "carol" })],
    ["an alg: none token", async () => `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "carol", exp: Math.floor(Date.now() / 1000) + 3600 })}.`],
    ["a token without exp", async () => signWithoutExp(secret)],
  ];
  for (const [label, makeToken] of refusedTokens) {
    it(`refuses ${label} with UNAUTHENTICATED at join`, async () => {
      const error = await joinError(sdkClient(node, await makeToken()).joinOrCreate("chat", { conversationId: "channel:lobby", userId: "carol" }));
      assert.equal(error.code, 401);
      assert.match(error.message, /^UNAUTHENTICATED/);
    });
  }

  it("checks the bearer token on HTTP history", async () => {
    const token = await signToken(secret, { sub: "carol" });
    const ok = await fetch(`${node.httpUrl}/v1/conversations/channel:lobby/messages`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    const forged = await fetch(`${node.httpUrl}/v1/conversations/channel:lobby/messages?userId=carol`, { headers: { authorization: `Bearer ${token}x` } });
    assert.equal(forged.status, 401);
  });
});

/** An HTTP JSON body, typed loosely for assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function json(response: Response): Promise<any> {
  return response.json();
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function signWithoutExp(secret: string): Promise<string> {
  const { SignJWT } = await import("jose");
  return new SignJWT({ name: "Carol" }).setProtectedHeader({ alg: "HS256" }).setSubject("carol").sign(new TextEncoder().encode(secret));
}
