/**
 * What the in-memory store does beyond the HistoryStore contract (which it also passes): it finds a
 * clientMsgId by a 30-bit hash, so two ids that share a hash must still be told apart.
 */
import assert from "node:assert/strict";
import { MemoryHistoryStore } from "../../rooms/memory-history-store.ts";
import type { Message } from "../../rooms/history-store.ts";
import { clientHash } from "../../rooms/client-hash.ts";
import { collidingIds } from "../support/colliding-ids.ts";

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

  it("gives back thousands of messages exactly as stored, whatever their script and the order their seqs came in", async () => {
    const store = new MemoryHistoryStore();
    const texts = ["gg", "see you at the gate", "¿qué tal? ñandú", "こんにちは、また後で", "emoji 🎮🔥 and a zero-width joiner 👩‍💻", "a"];
    const all = Array.from({ length: 3000 }, (_, index): Message => ({ ...message(index + 1, `id-${index + 1}`), text: `${texts[index % texts.length]} #${index + 1}` }));
    // Seqs arrive out of order (as two rooms writing one conversation might), so every insert moves others.
    const order = all.map((_, index) => index).sort((a, b) => ((a * 7919) % 3001) - ((b * 7919) % 3001));
    for (const index of order) assert.deepEqual(await store.appendMessages([all[index]!]), { stored: 1 });

    assert.deepEqual((await store.listAfter("channel:lobby", 0, 5000)).messages, all);
    assert.deepEqual(await store.listBefore("channel:lobby", 1501, 3), { messages: all.slice(1497, 1500), hasMore: true });
    assert.equal(await store.lastSeq("channel:lobby"), 3000);
    assert.deepEqual(await store.findByClientMsgId("channel:lobby", "ana", "id-2024"), all[2023]);
    assert.deepEqual(await store.appendMessages([message(2024, "new")]), { stored: 0, conflict: { index: 0, kind: "seq-taken" } });

    // A tombstone can be longer than the message it replaces ("a #6" and so on): the neighbours stay intact.
    assert.equal(await store.tombstone("channel:lobby", 6), true);
    const around = (await store.listAfter("channel:lobby", 4, 3)).messages;
    assert.deepEqual(around, [all[4], { ...all[5]!, text: "", deleted: true }, all[6]]);
  });
});
