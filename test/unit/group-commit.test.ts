import assert from "node:assert/strict";
import { createGroupCommit } from "../../server/history/group-commit.ts";
import type { AppendOutcome, Message } from "../../rooms/history-store.ts";
import { MemoryHistoryStore } from "../../rooms/memory-history-store.ts";

function message(conversationId: string, seq: number): Message {
  return { conversationId, seq, senderId: "alice", senderName: "Alice", text: `m${seq}`, sentAt: new Date(0).toISOString(), clientMsgId: `m${seq}` };
}

const options = { windowMs: 1, maxMessages: 500, maxBytes: 1_000_000, maxQueuedMessages: 10_000, writeTimeoutMs: 50 };

describe("group commit", function () {
  it("gathers appends of several rooms into one write and gives each its own outcome", async function () {
    const store = new MemoryHistoryStore();
    const writes: number[] = [];
    const appendMessages = (messages: Parameters<typeof store.appendMessages>[0]) => {
      writes.push(messages.length);
      return store.appendMessages(messages);
    };
    const append = createGroupCommit({ appendMessages }, options);
    const outcomes = await Promise.all([append([message("channel:a", 1), message("channel:a", 2)]), append([message("channel:b", 1)])]);
    assert.deepEqual(outcomes, [{ stored: 2 }, { stored: 1 }]);
    assert.deepEqual(writes, [3]);
  });

  it("gives up on a write that never settles and goes on with the next batch", async function () {
    const store = new MemoryHistoryStore();
    let calls = 0;
    const append = createGroupCommit(
      {
        appendMessages: (messages): Promise<AppendOutcome> => {
          calls++;
          // The first write hangs, as a driver call on a dead socket can.
          return calls === 1 ? new Promise<AppendOutcome>(() => {}) : store.appendMessages(messages);
        },
      },
      options,
    );
    const hung = append([message("channel:a", 1)]);
    await assert.rejects(hung, /did not answer/);
    assert.deepEqual(await append([message("channel:b", 1)]), { stored: 1 });
    assert.equal((await store.listAfter("channel:b", 0, 10)).messages.length, 1);
  });
});
