import assert from "node:assert/strict";
import { createGroupCommit } from "../../server/history/group-commit.ts";
import type { AppendOutcome, Message } from "../../rooms/history-store.ts";
import { MemoryHistoryStore } from "../../rooms/memory-history-store.ts";

function message(conversationId: string, seq: number): Message {
  return { conversationId, seq, senderId: "alice", senderName: "Alice", text: `m${seq}`, sentAt: new Date(0).toISOString(), clientMsgId: `m${seq}` };
}

/** A promise with its resolve function. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
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

  for (const concurrency of [1, 2]) {
    it(`with ${concurrency} write${concurrency > 1 ? "s" : ""} in flight, ${concurrency > 1 ? "writes another room's batch while the first is pending" : "holds the next batch until the first write settles"}`, async function () {
      const store = new MemoryHistoryStore();
      const started: string[] = [];
      const release: Array<() => void> = [];
      const firstStarted = deferred();
      const secondStarted = deferred();
      const append = createGroupCommit(
        {
          appendMessages: async (messages) => {
            started.push(messages[0]!.conversationId);
            if (started.length === 1) firstStarted.resolve();
            if (started.length === 2) secondStarted.resolve();
            await new Promise<void>((resolve) => release.push(resolve));
            return store.appendMessages(messages);
          },
        },
        { ...options, writeTimeoutMs: 5000, concurrency },
      );
      const first = append([message("channel:a", 1)]);
      // The second append arrives while the first batch's write is pending.
      await firstStarted.promise;
      const second = append([message("channel:b", 1)]);
      if (concurrency > 1) {
        await secondStarted.promise;
        assert.equal(release.length, 2, "both writes pending at once");
      } else {
        // Five windows pass with nothing started: the second batch waits for the first write.
        await new Promise<void>((resolve) => setTimeout(resolve, options.windowMs * 5));
        assert.deepEqual(started, ["channel:a"], "the second batch waits for the first write");
      }
      while (started.length < 2 || release.length > 0) {
        release.shift()?.();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      assert.deepEqual(await Promise.all([first, second]), [{ stored: 1 }, { stored: 1 }]);
      assert.deepEqual(started, ["channel:a", "channel:b"]);
    });
  }
});
