import assert from "node:assert/strict";
import type { SendAck as SendReply } from "../../schema/chat.ts";
import { ConversationLog, type AppendMessages, type ConversationLogOptions, type Draft, type SendOutcome } from "../../rooms/conversation-log.ts";
import type { AppendOutcome, Message } from "../../rooms/history-store.ts";
import { MemoryHistoryStore } from "../../rooms/memory-history-store.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { StoreTimeoutError } from "../../rooms/timeout.ts";
import { collidingIds } from "../support/colliding-ids.ts";

const CONVERSATION = "channel:log-test";

/** A log on a store, recording what it delivers, how often it fences and every failed write. */
type Harness = {
  log: ConversationLog;
  store: MemoryHistoryStore;
  /** Every message passed to onDurable, in call order. */
  delivered: Message[];
  /** How often onFenced was called so far. */
  readonly fencedCalls: number;
  writeFailures: unknown[];
};

type HarnessOptions = Partial<Omit<ConversationLogOptions, "onDurable" | "onFenced" | "onWriteFailed">> & { store?: MemoryHistoryStore };

async function startLog(options: HarnessOptions = {}): Promise<Harness> {
  const store = options.store ?? new MemoryHistoryStore();
  const delivered: Message[] = [];
  const writeFailures: unknown[] = [];
  let fencedCalls = 0;
  const log = new ConversationLog({
    conversationId: CONVERSATION,
    append: (messages) => store.appendMessages(messages),
    maxPending: 1000,
    storeTimeoutMs: 5000,
    ...options,
    store,
    onDurable: (messages) => delivered.push(...messages),
    onFenced: () => fencedCalls++,
    onWriteFailed: (error) => writeFailures.push(error),
  });
  await log.start();
  return {
    log,
    store,
    delivered,
    writeFailures,
    get fencedCalls() {
      return fencedCalls;
    },
  };
}

function draft(clientMsgId: string, senderId = "alice"): Draft {
  return { senderId, senderName: senderId === "alice" ? "Alice" : "Bob", text: `text of ${clientMsgId}`, clientMsgId };
}

/** The reply of an accepted send; fails the test on a refusal. */
function replyOf(outcome: SendOutcome): SendReply {
  assert.ok(outcome.ok, `expected the send to be accepted, got ${outcome.ok ? "" : `${outcome.refusal.code}: ${outcome.refusal.message}`}`);
  return outcome.reply;
}

function assertUnavailable(outcome: SendOutcome): void {
  assert.equal(outcome.ok, false, "expected the send to be refused");
  if (!outcome.ok) assert.equal(outcome.refusal.code, "UNAVAILABLE");
}

async function storedMessages(store: MemoryHistoryStore): Promise<Message[]> {
  return (await store.listAfter(CONVERSATION, 0, 10_000)).messages;
}

function assertGapFree(messages: readonly Message[], from = 1): void {
  assert.deepEqual(
    messages.map((message) => message.seq),
    Array.from({ length: messages.length }, (_, index) => from + index),
  );
}

/** A clock that moves one second per call, so every write gets its own sentAt. */
function tickingClock(): () => Date {
  let at = Date.UTC(2025, 0, 1);
  return () => new Date((at += 1000));
}

/** An append that holds each write until the test releases (or fails) it. */
function heldAppend(store: MemoryHistoryStore) {
  type Held = { messages: readonly Message[]; release: () => void; fail: (error: Error) => void };
  const held: Held[] = [];
  const append: AppendMessages = (messages) =>
    new Promise<AppendOutcome>((resolve, reject) => {
      held.push({ messages, release: () => void store.appendMessages(messages).then(resolve, reject), fail: reject });
    });
  /** The nth write, once the log has made it. */
  const write = (index: number) => waitFor(() => held[index], { what: `write #${index + 1}` });
  return { append, held, write };
}

describe("conversation log", function () {
  describe("numbering", function () {
    it("numbers many sends made in one tick 1..N without gaps, across several writes", async function () {
      const { log, store, delivered } = await startLog({ maxBatch: 7 });

      const outcomes = await Promise.all(Array.from({ length: 50 }, (_, index) => log.submit(draft(`m-${index}`))));

      const replies = outcomes.map(replyOf);
      assert.deepEqual(
        replies.map((reply) => reply.seq),
        Array.from({ length: 50 }, (_, index) => index + 1),
        "sends are numbered in the order they were made",
      );
      assert.ok(replies.every((reply) => !reply.duplicate));
      const stored = await storedMessages(store);
      assertGapFree(stored);
      stored.forEach((message, index) => assert.equal(message.clientMsgId, `m-${index}`));
      assert.deepEqual(delivered, stored);
      assert.equal(log.lastSeq, 50);
    });

    it("keeps numbering gap-free across ticks, awaited or not", async function () {
      const { log, store } = await startLog();

      for (let index = 0; index < 5; index++) assert.equal(replyOf(await log.submit(draft(`one-${index}`))).seq, index + 1);
      const burst = [log.submit(draft("burst-a")), log.submit(draft("burst-b"))];
      await Promise.resolve();
      burst.push(log.submit(draft("burst-c")));
      const seqs = (await Promise.all(burst)).map((outcome) => replyOf(outcome).seq);

      assert.deepEqual(seqs, [6, 7, 8]);
      assertGapFree(await storedMessages(store));
    });

    it("stores each message with its sender, text and the sentAt it acknowledges", async function () {
      const { log, store } = await startLog({ now: tickingClock() });

      const reply = replyOf(await log.submit({ senderId: "bob", senderName: "Bob \u{1F3AE}", text: "gg", clientMsgId: "b-1" }));

      assert.deepEqual(await storedMessages(store), [
        { conversationId: CONVERSATION, seq: reply.seq, senderId: "bob", senderName: "Bob \u{1F3AE}", text: "gg", sentAt: reply.sentAt, clientMsgId: "b-1" },
      ]);
    });

    it("continues after the stored lastSeq when started again on the same store", async function () {
      const store = new MemoryHistoryStore();
      const first = await startLog({ store });
      await Promise.all([first.log.submit(draft("a")), first.log.submit(draft("b")), first.log.submit(draft("c"))]);

      const restarted = await startLog({ store });
      assert.equal(restarted.log.lastSeq, 3);
      assert.equal(replyOf(await restarted.log.submit(draft("d"))).seq, 4);
      assertGapFree(await storedMessages(store));
      assert.equal(restarted.fencedCalls, 0);
    });
  });

  describe("delivery", function () {
    it("delivers each message in seq order before its sender is acknowledged", async function () {
      const { log, delivered } = await startLog({ maxBatch: 3 });
      const deliveredBeforeAck: boolean[] = [];

      await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          log.submit(draft(`m-${index}`)).then((outcome) => {
            const { seq } = replyOf(outcome);
            deliveredBeforeAck.push(delivered.some((message) => message.seq === seq && message.clientMsgId === `m-${index}`));
          }),
        ),
      );

      assert.deepEqual(deliveredBeforeAck, Array(10).fill(true));
      assertGapFree(delivered);
    });
  });

  describe("hand-over", function () {
    it("hands over its last seq only when settled, and a log started from it continues without asking the store", async function () {
      const { log, store } = await startLog();
      const pending = log.submit(draft("m1"));
      assert.equal(log.settledLastSeq, undefined, "not while a send is in flight");
      replyOf(await pending);
      replyOf(await log.submit(draft("m2")));
      await log.settled();
      assert.equal(log.settledLastSeq, 2);

      let asked = 0;
      const counting = Object.assign(Object.create(store) as MemoryHistoryStore, { lastSeq: async () => ++asked });
      const next = new ConversationLog({
        conversationId: CONVERSATION,
        store: counting,
        append: (messages) => store.appendMessages(messages),
        maxPending: 10,
        storeTimeoutMs: 1000,
        onDurable: () => {},
        onFenced: () => {},
        onWriteFailed: () => {},
      });
      await next.start(2);
      assert.equal(asked, 0);
      assert.equal(replyOf(await next.submit(draft("m3"))).seq, 3);
    });
  });

  describe("reading from memory", function () {
    it("answers sync and history from its newest messages exactly as the store would", async function () {
      const { log, store } = await startLog({ tailCap: 5 });
      for (let index = 1; index <= 8; index++) replyOf(await log.submit(draft(`m${index}`)));

      for (const afterSeq of [3, 4, 6, 8]) {
        for (const limit of [1, 2, 500]) assert.deepEqual(log.readAfter(afterSeq, limit), await store.listAfter(CONVERSATION, afterSeq, limit), `readAfter(${afterSeq}, ${limit})`);
      }
      for (const beforeSeq of [undefined, 9, 8, 6]) {
        for (const limit of [1, 2]) assert.deepEqual(log.readBefore(beforeSeq, limit), await store.listBefore(CONVERSATION, beforeSeq, limit), `readBefore(${beforeSeq}, ${limit})`);
      }
    });

    it("stays exact as messages keep coming: sync, history, tombstones and lookups after the tail has turned over several times", async function () {
      const { log, store } = await startLog({ tailCap: 5 });
      for (let index = 1; index <= 23; index++) {
        replyOf(await log.submit(draft(`m${index}`)));
        for (const afterSeq of [index - 5, index - 3, index - 1]) {
          if (afterSeq >= 0) assert.deepEqual(log.readAfter(afterSeq, 3), await store.listAfter(CONVERSATION, afterSeq, 3), `after ${index} sends: readAfter(${afterSeq}, 3)`);
        }
        assert.deepEqual(log.readBefore(undefined, 5), await store.listBefore(CONVERSATION, undefined, 5), `after ${index} sends: the newest 5`);
      }
      assert.equal(log.readAfter(17, 10), undefined, "seq 18 has left memory");
      assert.equal(log.messageAt(18), undefined, "seq 18 has left memory");
      assert.equal(log.tombstone(18), undefined, "memory cannot tombstone what it no longer holds");
      assert.equal(log.messageAt(19)?.clientMsgId, "m19");
      assert.equal(log.tombstone(21)?.clientMsgId, "m21");
      assert.deepEqual(
        log.readAfter(18, 10)?.messages.map((message) => [message.seq, message.deleted ?? false]),
        [
          [19, false],
          [20, false],
          [21, true],
          [22, false],
          [23, false],
        ],
      );
    });

    it("stamps each message with an ISO 8601 time of the write, to the millisecond", async function () {
      const { log, delivered } = await startLog();
      const before = Date.now();
      for (let index = 1; index <= 3; index++) replyOf(await log.submit(draft(`m${index}`)));
      const after = Date.now();
      for (const { sentAt } of delivered) {
        assert.equal(new Date(sentAt).toISOString(), sentAt, `${sentAt} is ISO 8601 as toISOString writes it`);
        assert.ok(Date.parse(sentAt) >= before && Date.parse(sentAt) <= after, `${sentAt} is the time of the write`);
      }
    });

    it("leaves to the store what memory does not hold: older messages, and everything after a restart", async function () {
      const { log, store } = await startLog({ tailCap: 5 });
      for (let index = 1; index <= 8; index++) replyOf(await log.submit(draft(`m${index}`)));
      assert.equal(log.readAfter(2, 10), undefined, "seq 3 has left memory");
      assert.equal(log.readBefore(5, 3), undefined, "seq 2 has left memory");

      const restarted = await startLog({ store, tailCap: 5 });
      assert.deepEqual(restarted.log.readAfter(8, 10), { messages: [], hasMore: false }, "nothing newer than the stored lastSeq");
      assert.equal(restarted.log.readAfter(7, 10), undefined);
      assert.equal(restarted.log.readBefore(undefined, 1), undefined);
    });

    it("holds a whole short conversation: history from the start says hasMore false", async function () {
      const { log } = await startLog();
      for (let index = 1; index <= 3; index++) replyOf(await log.submit(draft(`m${index}`)));
      assert.deepEqual(
        log.readBefore(undefined, 50)?.messages.map((message) => message.seq),
        [1, 2, 3],
      );
      assert.equal(log.readBefore(undefined, 50)?.hasMore, false);
      assert.deepEqual(log.readBefore(1, 50), { messages: [], hasMore: false });
    });
  });

  describe("idempotency", function () {
    it("answers a resend of a stored clientMsgId with the first seq and sentAt, duplicate: true, and stores nothing new", async function () {
      const { log, store, delivered } = await startLog({ now: tickingClock() });
      const first = replyOf(await log.submit(draft("hello")));
      replyOf(await log.submit(draft("after")));

      const resent = replyOf(await log.submit(draft("hello")));

      assert.deepEqual(resent, { seq: first.seq, sentAt: first.sentAt, duplicate: true });
      assert.equal((await storedMessages(store)).length, 2);
      assert.equal(delivered.length, 2, "a resend is not delivered again");
    });

    it("answers a resend of a recently acknowledged message even while the store is down", async function () {
      const { log, store } = await startLog();
      const first = replyOf(await log.submit(draft("hello")));

      store.down = true;
      assert.deepEqual(replyOf(await log.submit(draft("hello"))), { seq: first.seq, sentAt: first.sentAt, duplicate: true });
    });

    it("finds the first reply in the store once it has left the recent replies", async function () {
      const { log, store, delivered } = await startLog({ now: tickingClock(), recentRepliesCap: 1 });
      const first = replyOf(await log.submit(draft("old")));
      await log.submit(draft("newer-1"));
      await log.submit(draft("newer-2"));

      const resent = replyOf(await log.submit(draft("old")));

      assert.deepEqual(resent, { seq: first.seq, sentAt: first.sentAt, duplicate: true });
      assertGapFree(await storedMessages(store));
      assert.equal((await storedMessages(store)).length, 3);
      assert.equal(delivered.length, 3);
      assert.equal(replyOf(await log.submit(draft("next"))).seq, 4, "the refused write left no gap");
    });

    it("finds the first reply in the store once its message has left the tail, though the reply is still recent", async function () {
      const { log, store } = await startLog({ now: tickingClock(), tailCap: 2 });
      const first = replyOf(await log.submit(draft("old")));
      const newer: SendReply[] = [];
      for (let index = 1; index <= 3; index++) newer.push(replyOf(await log.submit(draft(`newer-${index}`))));
      assert.equal(log.messageAt(first.seq), undefined, "seq 1 has left the tail");

      assert.deepEqual(replyOf(await log.submit(draft("old"))), { ...first, duplicate: true });
      assert.equal((await storedMessages(store)).length, 4, "the resend stored nothing");
      store.down = true;
      assertUnavailable(await log.submit(draft("old")));
      assert.deepEqual(replyOf(await log.submit(draft("newer-3"))), { ...newer[2]!, duplicate: true }, "what the tail holds is answered without the store");
    });

    it("tells apart two clientMsgIds whose hashes collide: each resend gets its own first reply", async function () {
      const [first, second] = collidingIds("alice");
      const { log, store, delivered } = await startLog({ now: tickingClock() });
      const firstReply = replyOf(await log.submit(draft(first)));
      const secondReply = replyOf(await log.submit(draft(second)));
      assert.deepEqual([firstReply.seq, secondReply.seq], [1, 2]);

      assert.deepEqual(replyOf(await log.submit(draft(second))), { ...secondReply, duplicate: true });
      assert.deepEqual(replyOf(await log.submit(draft(first))), { ...firstReply, duplicate: true });
      assert.deepEqual(replyOf(await log.submit(draft(second))), { ...secondReply, duplicate: true });
      assert.equal((await storedMessages(store)).length, 2);
      assert.equal(delivered.length, 2, "no resend is delivered again");
    });

    it("treats the same clientMsgId from another sender as a new message", async function () {
      const { log } = await startLog();
      const fromAlice = replyOf(await log.submit(draft("same", "alice")));
      const fromBob = replyOf(await log.submit(draft("same", "bob")));
      assert.deepEqual([fromAlice.seq, fromBob.seq, fromBob.duplicate], [1, 2, false]);
    });

    it("stores 10 concurrent sends of one clientMsgId once and answers all with the same seq and sentAt", async function () {
      const { log, store, delivered } = await startLog();

      const replies = (await Promise.all(Array.from({ length: 10 }, () => log.submit(draft("tapped-10-times"))))).map(replyOf);

      assert.equal((await storedMessages(store)).length, 1);
      assert.equal(delivered.length, 1);
      const [firstReply] = replies;
      assert.ok(firstReply);
      assert.ok(replies.every((reply) => reply.seq === firstReply.seq && reply.sentAt === firstReply.sentAt));
      assert.equal(replies.filter((reply) => !reply.duplicate).length, 1, "exactly one reply is the original");
    });

    it("after a restart, answers a clientMsgId found only in the store with its first seq and numbers the rest of the write gap-free", async function () {
      const store = new MemoryHistoryStore();
      const before = await startLog({ store, now: tickingClock() });
      replyOf(await before.log.submit(draft("a-1")));
      const original = replyOf(await before.log.submit(draft("a-2")));

      const after = await startLog({ store, now: tickingClock() });
      const [fresh, resent, later] = await Promise.all([after.log.submit(draft("b-1", "bob")), after.log.submit(draft("a-2")), after.log.submit(draft("b-2", "bob"))]);

      assert.deepEqual(replyOf(resent), { seq: original.seq, sentAt: original.sentAt, duplicate: true });
      assert.equal(replyOf(fresh).seq, 3);
      assert.equal(replyOf(later).seq, 4);
      const stored = await storedMessages(store);
      assertGapFree(stored);
      assert.deepEqual(
        stored.map((message) => message.clientMsgId),
        ["a-1", "a-2", "b-1", "b-2"],
      );
      assert.deepEqual(
        after.delivered.map((message) => message.seq),
        [3, 4],
        "the duplicate is not delivered again",
      );
    });
  });

  describe("when the store fails", function () {
    it("refuses a send UNAVAILABLE when its write rejects, and numbers later sends without a gap", async function () {
      const { log, store, writeFailures } = await startLog();
      replyOf(await log.submit(draft("a-1")));

      store.down = true;
      assertUnavailable(await log.submit(draft("a-2")));
      assert.ok(writeFailures.length >= 1, "the failed write is reported");

      store.down = false;
      assert.equal(replyOf(await log.submit(draft("a-3"))).seq, 2);
      assert.equal(replyOf(await log.submit(draft("a-2"))).seq, 3, "the refused send can be resent");
      assertGapFree(await storedMessages(store));
    });

    it("keeps refusing UNAVAILABLE while the store stays down, then recovers", async function () {
      const { log, store } = await startLog();
      store.down = true;
      for (const id of ["x-1", "x-2", "x-3"]) assertUnavailable(await log.submit(draft(id)));

      store.down = false;
      const seqs = (await Promise.all(["x-1", "x-2", "x-3"].map((id) => log.submit(draft(id))))).map((outcome) => replyOf(outcome).seq);
      assert.deepEqual(seqs, [1, 2, 3]);
    });

    it("delivers what a failed write did store, and numbers later sends after it", async function () {
      const store = new MemoryHistoryStore();
      let failNext = true;
      const append: AppendMessages = async (messages) => {
        if (!failNext) return store.appendMessages(messages);
        failNext = false;
        // The first message lands, then the connection drops before the answer.
        await store.appendMessages(messages.slice(0, 1));
        throw new Error("connection reset");
      };
      const { log, delivered } = await startLog({ store, append, now: tickingClock() });

      const refused = await Promise.all([log.submit(draft("p-1")), log.submit(draft("p-2"))]);
      refused.forEach(assertUnavailable);

      const next = replyOf(await log.submit(draft("p-3")));
      assert.equal(next.seq, 2);
      const resent = await Promise.all([log.submit(draft("p-1")), log.submit(draft("p-2"))]);
      assert.deepEqual(
        resent.map((outcome) => [replyOf(outcome).seq, replyOf(outcome).duplicate]),
        [
          [1, true],
          [3, false],
        ],
      );
      const stored = await storedMessages(store);
      assertGapFree(stored);
      assert.deepEqual(delivered, stored, "the message that landed is delivered exactly once, in order");
    });

    it("refuses a send UNAVAILABLE when its write times out, delivers it when the write lands late, and continues at the next seq", async function () {
      const store = new MemoryHistoryStore();
      const writes = heldAppend(store);
      let holdWrites = true;
      const append: AppendMessages = (messages) => (holdWrites ? writes.append(messages) : store.appendMessages(messages));
      const { log, delivered, writeFailures } = await startLog({ store, append, storeTimeoutMs: 30 });

      assertUnavailable(await log.submit(draft("slow-1")));
      assert.ok(writeFailures.length >= 1, "the timeout is reported");
      assert.equal(delivered.length, 0, "nothing is delivered before it is durable");

      holdWrites = false;
      (await writes.write(0)).release();
      await waitFor(() => delivered.length === 1, { what: "the late write to be delivered" });
      assert.deepEqual(
        delivered.map((message) => [message.seq, message.clientMsgId]),
        [[1, "slow-1"]],
      );

      assert.equal(replyOf(await log.submit(draft("next"))).seq, 2, "no seq is reused and none is skipped");
      assert.deepEqual(replyOf(await log.submit(draft("slow-1"))), { seq: 1, sentAt: delivered[0]!.sentAt, duplicate: true });
      const stored = await storedMessages(store);
      assertGapFree(stored);
      assert.equal(stored.length, 2);
      assert.equal(writes.held.length, 1, "nothing was written while the late write was pending");
    });

    it("refuses sends made while a timed-out write is still pending, and numbers them after it once resent", async function () {
      const store = new MemoryHistoryStore();
      const writes = heldAppend(store);
      let holdWrites = true;
      const append: AppendMessages = (messages) => (holdWrites ? writes.append(messages) : store.appendMessages(messages));
      const { log, delivered } = await startLog({ store, append, storeTimeoutMs: 30 });

      assertUnavailable(await log.submit(draft("slow-1")));
      assertUnavailable(await log.submit(draft("meanwhile")));
      assert.equal(writes.held.length, 1, "no second write while the first may still land");

      holdWrites = false;
      (await writes.write(0)).release();
      await waitFor(() => delivered.length === 1, { what: "the late write to be delivered" });

      assert.equal(replyOf(await log.submit(draft("meanwhile"))).seq, 2);
      assertGapFree(await storedMessages(store));
    });

    it("refuses UNAVAILABLE beyond maxPending sends waiting for the store, but lets a resend join its original", async function () {
      const store = new MemoryHistoryStore();
      const writes = heldAppend(store);
      const { log, delivered } = await startLog({ store, append: writes.append, maxPending: 3 });

      const accepted = ["q-1", "q-2", "q-3"].map((id) => log.submit(draft(id)));
      assert.equal(log.pending, 3);
      assertUnavailable(await log.submit(draft("q-4")));
      const resend = log.submit(draft("q-2"));

      (await writes.write(0)).release();
      const seqs = (await Promise.all(accepted)).map((outcome) => replyOf(outcome).seq);
      assert.deepEqual(seqs, [1, 2, 3]);
      assert.deepEqual(replyOf(await resend), { seq: 2, sentAt: delivered[1]!.sentAt, duplicate: true });
      assert.equal((await storedMessages(store)).length, 3, "the refused send was not stored");
      assert.equal(log.pending, 0);
    });
  });

  describe("when another writer took the conversation", function () {
    it("fences itself once, refuses sends UNAVAILABLE, and leaves the other writer's message in place", async function () {
      const harness = await startLog();
      const { log, store, delivered } = harness;
      replyOf(await log.submit(draft("mine-1")));
      const theirs: Message = {
        conversationId: CONVERSATION,
        seq: 2,
        senderId: "bob",
        senderName: "Bob",
        text: "written by another node",
        sentAt: new Date().toISOString(),
        clientMsgId: "theirs-1",
      };
      assert.deepEqual(await store.appendMessages([theirs]), { stored: 1 });

      const refused = await Promise.all([log.submit(draft("mine-2")), log.submit(draft("mine-3"))]);
      refused.forEach(assertUnavailable);
      assertUnavailable(await log.submit(draft("mine-4")));

      assert.equal(log.fenced, true);
      assert.equal(harness.fencedCalls, 1);
      const stored = await storedMessages(store);
      assert.deepEqual(
        stored.map((message) => [message.seq, message.clientMsgId]),
        [
          [1, "mine-1"],
          [2, "theirs-1"],
        ],
      );
      assert.deepEqual(
        delivered.map((message) => message.seq),
        [1],
      );
    });
  });

  describe("settled", function () {
    it("resolves at once when nothing is waiting", async function () {
      const { log } = await startLog();
      await log.settled();
    });

    it("resolves only once every accepted send has been answered", async function () {
      const store = new MemoryHistoryStore();
      const writes = heldAppend(store);
      const { log } = await startLog({ store, append: writes.append });
      let answered = 0;
      const sends = ["s-1", "s-2", "s-3"].map((id) =>
        log.submit(draft(id)).then((outcome) => {
          answered++;
          return outcome;
        }),
      );
      let settled = false;
      const settling = log.settled().then(() => {
        settled = true;
      });

      const write = await writes.write(0);
      assert.equal(settled, false, "not settled while a write is in flight");
      write.release();
      await settling;

      assert.equal(answered, 3);
      (await Promise.all(sends)).forEach(replyOf);
      assert.equal(log.pending, 0);
    });

    it("resolves once refused sends are answered after a failed write", async function () {
      const { log, store } = await startLog();
      store.down = true;
      const send = log.submit(draft("f-1"));
      await log.settled();
      assertUnavailable(await send);
      assert.equal(log.pending, 0);
    });
  });
});

describe("ConversationLog under faulty collaborators", function () {
  it("answers UNAVAILABLE instead of hanging when append throws synchronously", async function () {
    const { log, writeFailures } = await startLog({
      append: () => {
        throw new Error("driver bug");
      },
    });
    assertUnavailable(await log.submit(draft("sync-throw")));
    assert.equal(log.pending, 0);
    assert.ok(writeFailures.length >= 1, "the failure is reported");
  });

  it("still acknowledges stored messages when delivery throws", async function () {
    const store = new MemoryHistoryStore();
    const failures: unknown[] = [];
    const log = new ConversationLog({
      conversationId: CONVERSATION,
      store,
      append: (messages) => store.appendMessages(messages),
      maxPending: 10,
      storeTimeoutMs: 5000,
      onDurable: () => {
        throw new Error("broadcast failed");
      },
      onFenced: () => {},
      onWriteFailed: (error) => failures.push(error),
    });
    await log.start();
    assert.equal(replyOf(await log.submit(draft("d1"))).seq, 1);
    assert.equal(replyOf(await log.submit(draft("d2"))).seq, 2);
    assert.equal(failures.length, 2);
  });

  it("fences itself when a timed-out write lands late and finds its seq taken", async function () {
    const store = new MemoryHistoryStore();
    let release: (outcome: AppendOutcome) => void = () => {};
    const append: AppendMessages = () => new Promise((resolve) => (release = resolve));
    const harness = await startLog({ store, append, storeTimeoutMs: 20 });
    assertUnavailable(await harness.log.submit(draft("late")));
    release({ stored: 0, conflict: { index: 0, kind: "seq-taken" } });
    await waitFor(() => harness.fencedCalls === 1, { what: "the log to fence itself" });
    assertUnavailable(await harness.log.submit(draft("after")));
  });

  it("stays responsive when a timed-out write later fails with a timeout of its own (a group commit's), and writes again", async function () {
    // The group commit rejects a write it gave up on with a StoreTimeoutError, after the log's own
    // timer fired: the log waited for that late write in a loop that took the rejection for its own
    // timer and awaited the settled promise again, forever, starving the node's event loop.
    const store = new MemoryHistoryStore();
    let failFirst: (error: unknown) => void = () => {};
    let calls = 0;
    const append: AppendMessages = (messages) => {
      calls++;
      if (calls === 1) return new Promise((_, reject) => (failFirst = reject));
      return store.appendMessages(messages);
    };
    const { log, writeFailures } = await startLog({ store, append, storeTimeoutMs: 20 });
    assertUnavailable(await log.submit(draft("lost-in-time")));
    failFirst(new StoreTimeoutError("group commit: store did not answer in time"));
    // A macrotask must get its turn once the failed write settled (a spinning log starves it).
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(writeFailures.length >= 1);
    assert.equal(replyOf(await log.submit(draft("next"))).seq, 1, "the log reconciles and writes again");
  });

  it("treats a store error named like a timeout as an error, not as its own timer", async function () {
    const store = new MemoryHistoryStore();
    let calls = 0;
    const append: AppendMessages = async (messages) => {
      calls++;
      if (calls === 1) throw Object.assign(new Error("server-side timeout"), { name: "TimeoutError" });
      return store.appendMessages(messages);
    };
    const { log } = await startLog({ store, append });
    assertUnavailable(await log.submit(draft("t1")));
    assert.equal(replyOf(await log.submit(draft("t2"))).seq, 1);
  });
});
