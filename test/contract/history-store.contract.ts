/**
 * The HistoryStore contract: what every implementation (memory, Mongo, ...) must do, as one mocha
 * suite. Each test uses conversations of its own, so the suite can run against a shared database.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { HistoryStore, Message } from "../../rooms/history-store.ts";

/** A store under test and how to release it afterwards. */
export type HistoryStoreFixture = { store: HistoryStore; cleanup: () => Promise<void> };

/** A conversation id no other test (or run) uses. */
function freshConversation(label: string): string {
  return `channel:contract-${label}-${randomUUID().slice(0, 8)}`;
}

/** A message with a distinct, millisecond-precise sentAt, as the sequencer writes them. */
function message(conversationId: string, seq: number, overrides: Partial<Message> = {}): Message {
  return {
    conversationId,
    seq,
    senderId: "alice",
    senderName: "Alice",
    text: `message ${seq}`,
    sentAt: new Date(Date.UTC(2025, 0, 1, 12, 0, 0, 0) + seq * 1001).toISOString(),
    clientMsgId: `m-${seq}`,
    ...overrides,
  };
}

/** Messages 1..count of one conversation. */
function messages(conversationId: string, count: number): Message[] {
  return Array.from({ length: count }, (_, index) => message(conversationId, index + 1));
}

function seqsOf(list: readonly Message[]): number[] {
  return list.map((item) => item.seq);
}

/** Define the suite every HistoryStore implementation must pass. */
export function historyStoreContract(name: string, makeStore: () => Promise<HistoryStoreFixture>): void {
  describe(`HistoryStore contract: ${name}`, function () {
    let fixture: HistoryStoreFixture | undefined;

    /** The store of the current suite. */
    function store(): HistoryStore {
      assert.ok(fixture, "the store was not created");
      return fixture.store;
    }

    before(async function () {
      fixture = await makeStore();
    });

    after(async function () {
      await fixture?.cleanup();
    });

    describe("appending and reading", function () {
      it("stores a batch and reads it back exactly, in seq order", async function () {
        const conversationId = freshConversation("append");
        const batch = messages(conversationId, 3);

        assert.deepEqual(await store().appendMessages(batch), { stored: 3 });

        const page = await store().listAfter(conversationId, 0, 10);
        assert.deepEqual(page, { messages: batch, hasMore: false });
        assert.equal(await store().lastSeq(conversationId), 3);
      });

      it("reads messages in seq order even when later seqs were stored first", async function () {
        const conversationId = freshConversation("order");
        const [first, second, third] = messages(conversationId, 3);
        assert.ok(first && second && third);

        await store().appendMessages([third]);
        await store().appendMessages([first, second]);

        assert.deepEqual(seqsOf((await store().listAfter(conversationId, 0, 10)).messages), [1, 2, 3]);
        assert.deepEqual(seqsOf((await store().listBefore(conversationId, undefined, 10)).messages), [1, 2, 3]);
      });

      it("stores nothing for an empty batch", async function () {
        const conversationId = freshConversation("empty");
        assert.deepEqual(await store().appendMessages([]), { stored: 0 });
        assert.equal(await store().lastSeq(conversationId), 0);
      });

      it("knows nothing of a conversation never written: lastSeq 0 and empty pages", async function () {
        const conversationId = freshConversation("unknown");
        assert.equal(await store().lastSeq(conversationId), 0);
        assert.deepEqual(await store().listBefore(conversationId, undefined, 10), { messages: [], hasMore: false });
        assert.deepEqual(await store().listAfter(conversationId, 0, 10), { messages: [], hasMore: false });
      });

      it("keeps conversations apart: each has its own seqs, pages and lastSeq", async function () {
        const left = freshConversation("left");
        const right = freshConversation("right");
        await store().appendMessages(messages(left, 3));
        assert.deepEqual(await store().appendMessages(messages(right, 2)), { stored: 2 }, "seq 1 and 2 are free in another conversation");

        const leftPage = await store().listAfter(left, 0, 10);
        const rightPage = await store().listBefore(right, undefined, 10);
        assert.deepEqual(seqsOf(leftPage.messages), [1, 2, 3]);
        assert.ok(leftPage.messages.every((item) => item.conversationId === left));
        assert.deepEqual(seqsOf(rightPage.messages), [1, 2]);
        assert.ok(rightPage.messages.every((item) => item.conversationId === right));
        assert.equal(await store().lastSeq(left), 3);
        assert.equal(await store().lastSeq(right), 2);
      });

      it("round-trips unicode text and names exactly, byte for byte", async function () {
        const conversationId = freshConversation("unicode");
        const texts = [
          "caf\u00e9 \u{1F600} \u{1F44B}\u{1F3FD} \u{1F468}\u200D\u{1F469}\u200D\u{1F467}",
          "\u65E5\u672C\u8A9E\u3068\u0420\u0443\u0441\u0441\u043A\u0438\u0439 \u2014 \u05E2\u05D1\u05E8\u05D9\u05EA",
          "decomposed stays decomposed: cafe\u0301",
          "quotes \" ' \\ and $dollar.dotted {braces}",
        ];
        const batch = texts.map((text, index) => message(conversationId, index + 1, { text, senderName: `J\u00fcrgen \u{1F3AE} ${index}` }));
        await store().appendMessages(batch);

        const page = await store().listAfter(conversationId, 0, 10);
        assert.deepEqual(page.messages, batch);
        for (const original of batch) {
          assert.deepEqual(await store().findByClientMsgId(conversationId, original.senderId, original.clientMsgId), original);
        }
      });
    });

    describe("paging", function () {
      let conversationId = "";

      before(async function () {
        conversationId = freshConversation("paging");
        await store().appendMessages(messages(conversationId, 7));
      });

      it("lists the newest messages, ascending, when beforeSeq is undefined", async function () {
        const page = await store().listBefore(conversationId, undefined, 3);
        assert.deepEqual(seqsOf(page.messages), [5, 6, 7]);
        assert.equal(page.hasMore, true);
      });

      it("pages back with beforeSeq until hasMore is false", async function () {
        const second = await store().listBefore(conversationId, 5, 3);
        assert.deepEqual({ seqs: seqsOf(second.messages), hasMore: second.hasMore }, { seqs: [2, 3, 4], hasMore: true });
        const last = await store().listBefore(conversationId, 2, 3);
        assert.deepEqual({ seqs: seqsOf(last.messages), hasMore: last.hasMore }, { seqs: [1], hasMore: false });
        const none = await store().listBefore(conversationId, 1, 3);
        assert.deepEqual(none, { messages: [], hasMore: false });
      });

      it("says hasMore false when the page ends exactly at the oldest message", async function () {
        const page = await store().listBefore(conversationId, 4, 3);
        assert.deepEqual({ seqs: seqsOf(page.messages), hasMore: page.hasMore }, { seqs: [1, 2, 3], hasMore: false });
      });

      it("lists everything below beforeSeq when the limit is larger than the history", async function () {
        const page = await store().listBefore(conversationId, undefined, 100);
        assert.deepEqual({ seqs: seqsOf(page.messages), hasMore: page.hasMore }, { seqs: [1, 2, 3, 4, 5, 6, 7], hasMore: false });
      });

      it("pages forward with afterSeq, oldest first, until hasMore is false", async function () {
        const first = await store().listAfter(conversationId, 0, 3);
        assert.deepEqual({ seqs: seqsOf(first.messages), hasMore: first.hasMore }, { seqs: [1, 2, 3], hasMore: true });
        const second = await store().listAfter(conversationId, 3, 3);
        assert.deepEqual({ seqs: seqsOf(second.messages), hasMore: second.hasMore }, { seqs: [4, 5, 6], hasMore: true });
        const last = await store().listAfter(conversationId, 6, 3);
        assert.deepEqual({ seqs: seqsOf(last.messages), hasMore: last.hasMore }, { seqs: [7], hasMore: false });
      });

      it("says hasMore false when the page ends exactly at the newest message, and is empty past it", async function () {
        const page = await store().listAfter(conversationId, 4, 3);
        assert.deepEqual({ seqs: seqsOf(page.messages), hasMore: page.hasMore }, { seqs: [5, 6, 7], hasMore: false });
        assert.deepEqual(await store().listAfter(conversationId, 7, 3), { messages: [], hasMore: false });
      });

      it("honours a limit of one in both directions", async function () {
        const newest = await store().listBefore(conversationId, undefined, 1);
        assert.deepEqual({ seqs: seqsOf(newest.messages), hasMore: newest.hasMore }, { seqs: [7], hasMore: true });
        const oldest = await store().listAfter(conversationId, 0, 1);
        assert.deepEqual({ seqs: seqsOf(oldest.messages), hasMore: oldest.hasMore }, { seqs: [1], hasMore: true });
      });
    });

    describe("conflicts", function () {
      it("refuses a second message with a stored seq as seq-taken and stores nothing after it", async function () {
        const conversationId = freshConversation("seq-taken");
        const stored = messages(conversationId, 2);
        await store().appendMessages(stored);

        const outcome = await store().appendMessages([
          message(conversationId, 3),
          message(conversationId, 2, { senderId: "bob", clientMsgId: "other-writer", text: "from another writer" }),
          message(conversationId, 4),
        ]);

        assert.deepEqual(outcome, { stored: 1, conflict: { index: 1, kind: "seq-taken" } });
        const page = await store().listAfter(conversationId, 0, 10);
        assert.deepEqual(page.messages, [...stored, message(conversationId, 3)], "seq 2 keeps its first message; seq 4 is not stored");
        assert.equal(await store().lastSeq(conversationId), 3);
        assert.equal(await store().findByClientMsgId(conversationId, "bob", "other-writer"), undefined);
        assert.equal(await store().findByClientMsgId(conversationId, "alice", "m-4"), undefined);
      });

      it("refuses a sender's stored clientMsgId as duplicate-client-msg and stores nothing after it", async function () {
        const conversationId = freshConversation("duplicate");
        const original = message(conversationId, 1, { clientMsgId: "hello-1" });
        await store().appendMessages([original]);

        const outcome = await store().appendMessages([message(conversationId, 2), message(conversationId, 3, { clientMsgId: "hello-1", text: "resent" }), message(conversationId, 4)]);

        assert.deepEqual(outcome, { stored: 1, conflict: { index: 1, kind: "duplicate-client-msg" } });
        assert.deepEqual(seqsOf((await store().listAfter(conversationId, 0, 10)).messages), [1, 2]);
        assert.deepEqual(await store().findByClientMsgId(conversationId, "alice", "hello-1"), original, "the first message keeps the clientMsgId");
        assert.equal(await store().findByClientMsgId(conversationId, "alice", "m-4"), undefined);
      });

      it("refuses a clientMsgId repeated within one batch at the repeat", async function () {
        const conversationId = freshConversation("repeat");
        const outcome = await store().appendMessages([message(conversationId, 1, { clientMsgId: "twice" }), message(conversationId, 2, { clientMsgId: "twice" }), message(conversationId, 3)]);

        assert.deepEqual(outcome, { stored: 1, conflict: { index: 1, kind: "duplicate-client-msg" } });
        assert.equal(await store().lastSeq(conversationId), 1);
      });

      it("accepts the same clientMsgId from another sender and in another conversation", async function () {
        const conversationId = freshConversation("same-id");
        const elsewhere = freshConversation("same-id-elsewhere");
        const fromAlice = message(conversationId, 1, { clientMsgId: "shared" });
        const fromBob = message(conversationId, 2, { senderId: "bob", senderName: "Bob", clientMsgId: "shared" });
        const aliceElsewhere = message(elsewhere, 1, { clientMsgId: "shared" });

        assert.deepEqual(await store().appendMessages([fromAlice]), { stored: 1 });
        assert.deepEqual(await store().appendMessages([fromBob]), { stored: 1 });
        assert.deepEqual(await store().appendMessages([aliceElsewhere]), { stored: 1 });

        assert.deepEqual(await store().findByClientMsgId(conversationId, "alice", "shared"), fromAlice);
        assert.deepEqual(await store().findByClientMsgId(conversationId, "bob", "shared"), fromBob);
        assert.deepEqual(await store().findByClientMsgId(elsewhere, "alice", "shared"), aliceElsewhere);
      });
    });

    describe("finding by clientMsgId", function () {
      it("returns the stored message exactly, sentAt as the same ISO string", async function () {
        const conversationId = freshConversation("find");
        const stored = message(conversationId, 1, { sentAt: "2025-06-30T23:59:59.999Z", clientMsgId: "a.b:c_d-1" });
        await store().appendMessages([stored]);

        const found = await store().findByClientMsgId(conversationId, "alice", "a.b:c_d-1");
        assert.deepEqual(found, stored);
        assert.equal(found?.sentAt, "2025-06-30T23:59:59.999Z");
      });

      it("returns undefined for an unknown clientMsgId, sender or conversation", async function () {
        const conversationId = freshConversation("find-absent");
        await store().appendMessages([message(conversationId, 1)]);

        assert.equal(await store().findByClientMsgId(conversationId, "alice", "never-sent"), undefined);
        assert.equal(await store().findByClientMsgId(conversationId, "bob", "m-1"), undefined);
        assert.equal(await store().findByClientMsgId(freshConversation("find-other"), "alice", "m-1"), undefined);
      });

      it("keeps its own copies: changing an appended or returned message changes nothing stored", async function () {
        const conversationId = freshConversation("copies");
        const stored = message(conversationId, 1);
        const appended = { ...stored };
        await store().appendMessages([appended]);
        appended.text = "changed after append";

        const found = await store().findByClientMsgId(conversationId, "alice", "m-1");
        assert.ok(found);
        found.text = "tampered";
        const page = await store().listAfter(conversationId, 0, 1);
        const listed = page.messages[0];
        assert.ok(listed);
        listed.text = "tampered too";

        assert.deepEqual(await store().findByClientMsgId(conversationId, "alice", "m-1"), stored);
      });
    });

    describe("read cursors", function () {
      it("starts at 0 and only moves forward", async function () {
        const conversationId = freshConversation("cursor");
        assert.equal(await store().readCursor(conversationId, "alice"), 0);

        assert.equal(await store().advanceReadCursor(conversationId, "alice", 5), 5);
        assert.equal(await store().advanceReadCursor(conversationId, "alice", 3), 5, "moving back answers the cursor as it stands");
        assert.equal(await store().readCursor(conversationId, "alice"), 5);
        assert.equal(await store().advanceReadCursor(conversationId, "alice", 8), 8);
        assert.equal(await store().readCursor(conversationId, "alice"), 8);
      });

      it("keeps one cursor per conversation and user", async function () {
        const conversationId = freshConversation("cursor-own");
        const elsewhere = freshConversation("cursor-elsewhere");
        await store().advanceReadCursor(conversationId, "alice", 4);

        assert.equal(await store().readCursor(conversationId, "bob"), 0);
        assert.equal(await store().readCursor(elsewhere, "alice"), 0);
        assert.equal(await store().advanceReadCursor(elsewhere, "alice", 2), 2);
        assert.equal(await store().readCursor(conversationId, "alice"), 4);
      });

      it("settles at the highest seq when one user advances from two tabs at once", async function () {
        const conversationId = freshConversation("cursor-race");
        const targets = [3, 9, 5, 7];

        const answers = await Promise.all(targets.map((seq) => store().advanceReadCursor(conversationId, "alice", seq)));

        answers.forEach((answer, index) => assert.ok(answer >= targets[index]!, `advance to ${targets[index]} answered ${answer}`));
        assert.equal(await store().readCursor(conversationId, "alice"), 9);
      });
    });

    describe("conversations and members", function () {
      const fresh = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

      it("records a dm with its two members, once, however often it is recorded", async function () {
        const [a, b] = [fresh("a"), fresh("b")];
        const dm = `dm:${a}:${b}`;
        await Promise.all([store().recordConversation(dm, "dm", [a, b]), store().recordConversation(dm, "dm", [a, b])]);

        assert.deepEqual(await store().members(dm), [a, b].sort());
        assert.deepEqual(await store().conversationsOf(a, 10), [dm]);
        assert.deepEqual(await store().conversationsOf(b, 10), [dm]);
      });

      it("adds and removes group members idempotently, and lists a user's conversations in id order", async function () {
        const user = fresh("carol");
        const other = fresh("dave");
        const [g1, g2] = [`group:${fresh("g1")}`, `group:${fresh("g2")}`].sort() as [string, string];
        await store().setMember(g2, user, true);
        await store().setMember(g1, user, true);
        await store().setMember(g1, user, true);
        await store().setMember(g1, other, true);

        assert.deepEqual(await store().members(g1), [user, other].sort());
        assert.deepEqual(await store().conversationsOf(user, 10), [g1, g2]);
        assert.deepEqual(await store().conversationsOf(user, 1), [g1]);

        await store().setMember(g1, user, false);
        await store().setMember(g1, user, false);
        assert.deepEqual(await store().members(g1), [other]);
        assert.deepEqual(await store().conversationsOf(user, 10), [g2]);
      });

      it("knows no members of a conversation never recorded, and no conversations of a stranger", async function () {
        assert.deepEqual(await store().members(`group:${fresh("none")}`), []);
        assert.deepEqual(await store().conversationsOf(fresh("nobody"), 10), []);
      });
    });

    it("keeps a tombstone at its seq: text emptied, deleted set, sender and seq kept, idempotently", async function () {
      const conversationId = freshConversation("tombstone");
      await store().appendMessages([message(conversationId, 1), message(conversationId, 2, { filtered: true }), message(conversationId, 3)]);
      assert.equal(await store().tombstone(conversationId, 2), true);
      assert.equal(await store().tombstone(conversationId, 2), true);
      assert.equal(await store().tombstone(conversationId, 9), false, "no message there");
      const { messages: page } = await store().listAfter(conversationId, 0, 10);
      assert.deepEqual(seqsOf(page), [1, 2, 3], "no gap opens");
      assert.deepEqual(page[1], { ...message(conversationId, 2), text: "", deleted: true });
      assert.equal(page[0]!.text, "message 1");
    });

    it("keeps the shadow and filtered marks of a stored message", async function () {
      const conversationId = freshConversation("marks");
      await store().appendMessages([message(conversationId, 1, { shadow: true }), message(conversationId, 2, { filtered: true, text: "a *** b" })]);
      const { messages: page } = await store().listBefore(conversationId, undefined, 10);
      assert.deepEqual(page, [message(conversationId, 1, { shadow: true }), message(conversationId, 2, { filtered: true, text: "a *** b" })]);
    });

    it("gives every conversation epoch 1 until a restore sets another", async function () {
      assert.equal(await store().epoch(freshConversation("epoch")), "1");
    });

    it("answers ping while it is up", async function () {
      await store().ping();
    });
  });
}
