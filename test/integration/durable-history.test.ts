/**
 * Durable history against a real MongoDB-wire server (FerretDB here, MongoDB anywhere), with real
 * node processes and stock SDK clients: acknowledged means stored, across crashes, races, split
 * brain and store outages.
 */
import assert from "node:assert/strict";
import type { Room } from "@colyseus/sdk";
import { sdkClient, startNode, unique, type NodeProcess } from "../support/node-process.ts";
import { withDatabase } from "../../deploy/services.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../../deploy/wait-for.ts";

type Message = { seq: number; clientMsgId: string; senderId: string; text: string };
type Reply = { seq: number; sentAt: string; duplicate: boolean };

const generous = { SEND_RATE_PER_SEC: "10000", SEND_BURST: "10000", REQUEST_RATE_PER_SEC: "10000" };

/** Every stored message of a conversation, read with sync from seq 0. */
async function readAll(room: Room): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const page = await room.request("sync", { afterSeq: all.at(-1)?.seq ?? 0 });
    all.push(...page.messages);
    if (!page.hasMore) return all;
  }
}

function assertGapFree(messages: Message[]): void {
  assert.deepEqual(
    messages.map((m) => m.seq),
    messages.map((_, index) => index + 1),
    "seq runs 1, 2, 3, ... with no gap and no reuse",
  );
}

describe("durable history", function () {
  const mongoUrl = process.env.MONGO_URL;
  let database: string;
  const nodes: NodeProcess[] = [];

  before(function () {
    if (!mongoUrl) {
      console.log("    skipped: MONGO_URL is not set (npm test provisions one; run it through npm test)");
      this.skip();
    }
  });
  beforeEach(() => {
    database = withDatabase(mongoUrl!, `parley_it_${unique()}`);
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((node) => node.stop()));
  });

  async function node(env: Record<string, string> = {}): Promise<NodeProcess> {
    const started = await startNode({ MONGO_URL: database, ...generous, ...env });
    nodes.push(started);
    return started;
  }

  it("keeps every acknowledged message through a SIGKILL, and resends stay duplicates of the original", async () => {
    const first = await node();
    const conversationId = `channel:${unique()}`;
    const room = await sdkClient(first).joinOrCreate("chat", { conversationId, userId: "alice" });
    const acked = new Map<string, Reply>();
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const reply: Reply = await room.request("send", { clientMsgId: `c${i}`, text: `message ${i}` });
        acked.set(`c${i}`, reply);
      }),
    );
    first.signal("SIGKILL");
    await first.exited;

    const second = await node();
    const again = await sdkClient(second).joinOrCreate("chat", { conversationId, userId: "alice" });
    const stored = await readAll(again);
    assertGapFree(stored);
    assert.equal(stored.length, 60);
    for (const [clientMsgId, reply] of acked) {
      assert.equal(stored.find((m) => m.clientMsgId === clientMsgId)?.seq, reply.seq, `${clientMsgId} stored at its acknowledged seq`);
    }
    for (const clientMsgId of ["c0", "c31", "c59"]) {
      const resent: Reply = await again.request("send", { clientMsgId, text: "resent after the crash" });
      assert.deepEqual(resent, { ...acked.get(clientMsgId)!, duplicate: true });
    }
    const next: Reply = await again.request("send", { clientMsgId: "after-crash", text: "continues" });
    assert.equal(next.seq, 61, "the conversation continues after the restart");
  });

  it("turns 10 concurrent sends of one clientMsgId into one stored message and 10 replies with one seq", async () => {
    const server = await node();
    const conversationId = `channel:${unique()}`;
    const rooms = await Promise.all(Array.from({ length: 10 }, () => sdkClient(server).joinOrCreate("chat", { conversationId, userId: "alice" })));
    const replies: Reply[] = await Promise.all(rooms.map((room) => room.request("send", { clientMsgId: "once", text: "only once" })));
    assert.equal(new Set(replies.map((r) => `${r.seq}|${r.sentAt}`)).size, 1, "identical seq and sentAt");
    assert.equal(replies.filter((r) => !r.duplicate).length, 1, "one first reply, the rest duplicates of it");
    const stored = await readAll(rooms[0]!);
    assert.equal(stored.filter((m) => m.clientMsgId === "once").length, 1);
  });

  it("fences a second room of the same conversation: no seq stored twice, and the loser sends migrate", async () => {
    // Two nodes without Redis cannot see each other's rooms: each creates its own room for the conversation.
    const [a, b] = await Promise.all([node(), node()]);
    const conversationId = `channel:${unique()}`;
    const onA = await sdkClient(a).joinOrCreate("chat", { conversationId, userId: "alice" });
    const onB = await sdkClient(b).joinOrCreate("chat", { conversationId, userId: "bob" });
    const migrated: unknown[] = [];
    onB.onMessage("migrate", (m: unknown) => migrated.push(m));
    onA.onMessage("migrate", (m: unknown) => migrated.push(m));
    onA.onMessage("message", () => {});
    onB.onMessage("message", () => {});

    const first: Reply = await onA.request("send", { clientMsgId: "a1", text: "from A" });
    assert.equal(first.seq, 1);
    // B's room started at lastSeq 0 before A wrote: its first write takes seq 1 again and loses.
    const refused = await onB.request("send", { clientMsgId: "b1", text: "from B" }).then(
      () => undefined,
      (error: { reason?: { code: string } }) => error.reason,
    );
    assert.equal(refused?.code, "UNAVAILABLE");
    await waitFor(() => migrated.length === 1, { what: "migrate on the losing room" });

    // B's client rejoins (a new room on B restores lastSeq from the store) and resends.
    const rejoined = await sdkClient(b).joinOrCreate("chat", { conversationId, userId: "bob" });
    const resent: Reply = await rejoined.request("send", { clientMsgId: "b1", text: "from B" });
    assert.equal(resent.seq, 2);
    const stored = await readAll(rejoined);
    assertGapFree(stored);
    assert.deepEqual(
      stored.map((m) => m.clientMsgId),
      ["a1", "b1"],
    );
  });

  describe("during a store outage", function () {
    let proxy: TcpProxy;
    before(async function () {
      const target = Number(new URL(mongoUrl!).port || 27017);
      proxy = await startTcpProxy(target);
    });
    after(async () => proxy?.close());

    it("refuses with UNAVAILABLE, answers /readyz 503, loses nothing acknowledged, and takes every resend exactly once", async function () {
      this.timeout(90_000);
      const server = await node({ MONGO_URL: proxy.url(database), STORE_TIMEOUT_MS: "1000" });
      const conversationId = `channel:${unique()}`;
      const room = await sdkClient(server).joinOrCreate("chat", { conversationId, userId: "alice" });
      room.onMessage("message", () => {});

      const acked = new Map<string, number>();
      const refusedCodes = new Map<string, string>();
      const unanswered = new Set<string>();
      let counter = 0;
      const sendOne = async () => {
        const clientMsgId = `s${counter++}`;
        unanswered.add(clientMsgId);
        try {
          const reply: Reply = await room.request("send", { clientMsgId, text: `steady ${clientMsgId}` }, { timeout: 15_000 });
          acked.set(clientMsgId, reply.seq);
        } catch (error) {
          refusedCodes.set(clientMsgId, (error as { reason?: { code: string } }).reason?.code ?? String(error));
        } finally {
          unanswered.delete(clientMsgId);
        }
      };

      // A steady stream: one send every 50 ms, before, during and after a 10 s outage.
      const inFlight: Promise<void>[] = [];
      const stream = setInterval(() => inFlight.push(sendOne()), 50);
      try {
        await waitFor(() => acked.size >= 20, { what: "sends before the outage" });
        proxy.cut();
        const cutAt = Date.now();
        await waitFor(async () => (await fetch(`${server.httpUrl}/readyz`)).status === 503, { what: "readyz to turn 503", timeoutMs: 8000 });
        await waitFor(() => refusedCodes.size >= 5, { what: "refusals during the outage", timeoutMs: 15_000 });
        await waitFor(() => Date.now() - cutAt >= 10_000, { what: "the outage to last 10 s", timeoutMs: 12_000, intervalMs: 100 });
        proxy.restore();
        await waitFor(async () => (await fetch(`${server.httpUrl}/readyz`)).status === 200, { what: "readyz to recover", timeoutMs: 30_000, intervalMs: 200 });
        const ackedBeforeRecovery = acked.size;
        await waitFor(() => acked.size >= ackedBeforeRecovery + 10, { what: "sends to be acknowledged again", timeoutMs: 30_000 });
      } finally {
        clearInterval(stream);
      }
      await Promise.all(inFlight);
      assert.equal(unanswered.size, 0);
      assert.ok(refusedCodes.size > 0, "the outage refused some sends");
      assert.deepEqual(new Set(refusedCodes.values()), new Set(["UNAVAILABLE"]), "every refusal says UNAVAILABLE");

      // The client resends every refused clientMsgId after recovery.
      for (const clientMsgId of refusedCodes.keys()) {
        const reply: Reply = await room.request("send", { clientMsgId, text: `steady ${clientMsgId}` });
        acked.set(clientMsgId, reply.seq);
      }
      const stored = await readAll(room);
      assertGapFree(stored);
      assert.equal(stored.length, counter, "every clientMsgId stored exactly once");
      assert.equal(new Set(stored.map((m) => m.clientMsgId)).size, counter);
      for (const [clientMsgId, seq] of acked) {
        assert.equal(stored.find((m) => m.clientMsgId === clientMsgId)?.seq, seq, `${clientMsgId} kept at its acknowledged seq`);
      }
    });
  });
});
