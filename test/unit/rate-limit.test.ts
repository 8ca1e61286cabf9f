import assert from "node:assert/strict";
import { waitFor } from "../../deploy/wait-for.ts";
import { createMemoryRateLimit, type MemoryRateLimit } from "../../rooms/plugins/rate-limit.ts";

/** Takes for `key` until one is refused; how many passed, and the wait the refusal named. */
function exhaust(limit: MemoryRateLimit, key: string): { passed: number; waitMs: number } {
  for (let passed = 0; passed < 100_000; passed++) {
    const waitMs = limit.take(key);
    if (waitMs !== undefined) return { passed, waitMs };
  }
  throw new Error("never refused");
}

describe("node-local rate limits", function () {
  const made: MemoryRateLimit[] = [];
  const limit = (perSecond: number, burst: number) => {
    const created = createMemoryRateLimit(perSecond, burst);
    made.push(created);
    return created;
  };
  after(() => made.forEach((created) => created.close()));

  it("lets the sustained rate and the burst through at once, then refuses with the wait until a point comes back", function () {
    const sends = limit(5, 10);
    const { passed, waitMs } = exhaust(sends, "alice");
    assert.equal(passed, 15);
    // One point a fifth of a second at 5 a second: the wait is at most that, never 0.
    assert.ok(waitMs >= 1 && waitMs <= 200, `waitMs ${waitMs}`);
    assert.equal(sends.take("bob"), undefined, "another key has its own buckets");
  });

  it("without a burst lets exactly the sustained rate through at once", function () {
    assert.equal(exhaust(limit(10, 0), "session").passed, 10);
  });

  it("lets a refused key through again once its sustained bucket refills", async function () {
    const requests = limit(20, 0);
    exhaust(requests, "session");
    await waitFor(() => requests.take("session") === undefined, { timeoutMs: 2000, intervalMs: 10, what: "a point to come back" });
  });

  it("forgets a key once its buckets are full again, and a key forgotten starts full", async function () {
    const requests = limit(1000, 0);
    for (let i = 0; i < 500; i++) assert.equal(requests.take("session"), undefined);
    requests.sweep();
    assert.equal(requests.size, 1, "a key whose bucket is still refilling is kept");
    await waitFor(
      () => {
        requests.sweep();
        return requests.size === 0;
      },
      { timeoutMs: 3000, intervalMs: 20, what: "the idle key to be forgotten" },
    );
    // Started full: the whole bucket at once (and whatever dripped in while taking it).
    assert.ok(exhaust(requests, "session").passed >= 1000);
  });

  it("refuses a rate below one a second rather than limit nothing", function () {
    assert.throws(() => createMemoryRateLimit(0, 0), RangeError);
    assert.throws(() => createMemoryRateLimit(10, -1), RangeError);
  });
});
