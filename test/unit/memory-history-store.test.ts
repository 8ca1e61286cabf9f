/**
 * What the in-memory store does beyond the HistoryStore contract (which it also passes): it finds a
 * clientMsgId by a 30-bit hash, so two ids that share a hash must still be told apart.
 */
import assert from "node:assert/strict";
import { clientHash } from "../../rooms/client-hash.ts";
import { MemoryHistoryStore } from "../../rooms/memory-history-store.ts";
import type { Message } from "../../rooms/history-store.ts";

/** Two clientMsgIds of one sender with the same hash (a birthday search: about 2^15 tries). */
function collidingIds(senderId: string): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const id = `m-${i}`;
    const hash = clientHash(senderId, id);
    const earlier = seen.get(hash);
    if (earlier !== undefined) return [earlier, id];
    seen.set(hash, id);
  }
}

function message(seq: number, clientMsgId: string): Message {
  return { conversationId: "channel:lobby", seq, senderId: "ana", senderName: "Ana", text: `text ${seq}`, clientMsgId, sentAt: "2026-12-03T00:00:00.000Z" };
}

describe("MemoryHistoryStore", () => {
  it("stores two clientMsgIds whose hashes collide as two messages, and still refuses a real duplicate", async () => {
    const [first, second] = collidingIds("ana");
    assert.notEqual(first, second);
    assert.equal(clientHash("ana", first), clientHash("ana", second));
    const store = new MemoryHistoryStore();

    assert.deepEqual(await store.appendMessages([message(1, first), message(2, second)]), { stored: 2 });
    assert.equal((await store.findByClientMsgId("channel:lobby", "ana", first))?.seq, 1);
    assert.equal((await store.findByClientMsgId("channel:lobby", "ana", second))?.seq, 2);
    assert.equal(await store.findByClientMsgId("channel:lobby", "bob", first), undefined);
    assert.deepEqual(await store.appendMessages([message(3, second)]), { stored: 0, conflict: { index: 0, kind: "duplicate-client-msg" } });
    assert.deepEqual(await store.appendMessages([message(3, first)]), { stored: 0, conflict: { index: 0, kind: "duplicate-client-msg" } });
    assert.deepEqual(
      (await store.listAfter("channel:lobby", 0, 10)).messages.map((stored) => stored.clientMsgId),
      [first, second],
    );
  });

  it("keeps a tombstone at its seq and its clientMsgId, so a resend is still a duplicate", async () => {
    const store = new MemoryHistoryStore();
    await store.appendMessages([message(1, "a"), message(2, "b")]);
    assert.equal(await store.tombstone("channel:lobby", 1), true);
    const [tombstone] = (await store.listAfter("channel:lobby", 0, 1)).messages;
    assert.deepEqual({ seq: tombstone?.seq, text: tombstone?.text, deleted: tombstone?.deleted }, { seq: 1, text: "", deleted: true });
    assert.deepEqual(await store.appendMessages([message(3, "a")]), { stored: 0, conflict: { index: 0, kind: "duplicate-client-msg" } });
  });
});
