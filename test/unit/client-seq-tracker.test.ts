/**
 * SeqTracker: every seq exactly once, ascending, whatever order live deliveries and sync pages
 * arrive in.
 */
import assert from "node:assert/strict";
import { SeqTracker } from "../../client/seq-tracker.ts";
import type { Message } from "../../client/protocol.ts";

const message = (seq: number): Message => ({ conversationId: "channel:x", seq, senderId: "a", senderName: "A", text: `m${seq}`, sentAt: new Date(0).toISOString(), clientMsgId: `c${seq}` });
const seqs = (messages: Message[]) => messages.map((m) => m.seq);

describe("client SeqTracker", () => {
  it("releases consecutive messages at once and advances lastSeq", () => {
    const tracker = new SeqTracker();
    assert.deepEqual(seqs(tracker.offer(message(1))), [1]);
    assert.deepEqual(seqs(tracker.offer(message(2))), [2]);
    assert.equal(tracker.lastSeq, 2);
    assert.equal(tracker.hasGap, false);
  });

  it("drops a duplicate at or below lastSeq and one already held", () => {
    const tracker = new SeqTracker({ lastSeq: 5 });
    assert.deepEqual(tracker.offer(message(5)), []);
    assert.deepEqual(tracker.offer(message(3)), []);
    tracker.offer(message(8));
    assert.deepEqual(tracker.offer(message(8)), []);
    assert.equal(tracker.bufferedCount, 1);
  });

  it("reports a gap when a later seq arrives, holds it, and releases everything once the gap is filled", () => {
    const tracker = new SeqTracker();
    tracker.offer(message(1));
    assert.deepEqual(tracker.offer(message(4)), []);
    assert.equal(tracker.hasGap, true);
    assert.deepEqual(tracker.offer(message(3)), []);
    // A sync page from lastSeq 1: 2, 3, 4, 5 — 3 and 4 again must not come out twice.
    const released = [2, 3, 4, 5].flatMap((seq) => tracker.offer(message(seq)));
    assert.deepEqual(seqs(released), [2, 3, 4, 5]);
    assert.equal(tracker.hasGap, false);
    assert.equal(tracker.bufferedCount, 0);
  });

  it("knows about a gap it only heard of (an ack above lastSeq) until the message is offered", () => {
    const tracker = new SeqTracker({ lastSeq: 2 });
    tracker.noteExists(3);
    assert.equal(tracker.hasGap, true);
    tracker.offer(message(3));
    assert.equal(tracker.hasGap, false);
  });

  it("bounds held messages, dropping the newest, and still reports the gap so sync recovers them", () => {
    const tracker = new SeqTracker({ maxBuffered: 2 });
    for (const seq of [5, 4, 3]) tracker.offer(message(seq));
    assert.equal(tracker.bufferedCount, 2);
    assert.equal(tracker.droppedCount, 1);
    assert.deepEqual(seqs([1, 2].flatMap((seq) => tracker.offer(message(seq)))), [1, 2, 3, 4]);
    assert.equal(tracker.hasGap, true, "seq 5 was seen, then dropped; it is still owed");
    assert.deepEqual(seqs(tracker.offer(message(5))), [5]);
    assert.equal(tracker.hasGap, false);
  });

  it("skips to a start seq without releasing what lies below it, then releases held messages above it", () => {
    const tracker = new SeqTracker();
    tracker.offer(message(11));
    tracker.offer(message(9));
    assert.deepEqual(seqs(tracker.skipTo(10)), [11]);
    assert.equal(tracker.lastSeq, 11);
    assert.deepEqual(tracker.skipTo(4), []);
  });

  it("releases a shuffled stream with duplicates exactly once in order", () => {
    const tracker = new SeqTracker();
    const order = [3, 1, 2, 2, 7, 5, 6, 4, 1, 8, 7, 10, 9];
    const released = order.flatMap((seq) => tracker.offer(message(seq)));
    assert.deepEqual(seqs(released), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
