/**
 * Drain pacing (server/drain-pace.ts): a draining node hands its rooms over a few at a time, and
 * once the rush deadline passes every room still waiting goes at once.
 */
import assert from "node:assert/strict";
import { waitFor } from "../../deploy/wait-for.ts";
import { createDrainPace } from "../../server/drain-pace.ts";

/** Hand-offs that finish only when released, counting how many run at once. */
function handOffs(count: number) {
  let running = 0;
  let most = 0;
  let done = 0;
  const releases: Array<() => void> = [];
  const make = () => async () => {
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => releases.push(resolve));
    running--;
    done++;
  };
  return {
    all: Array.from({ length: count }, make),
    get running() {
      return running;
    },
    get most() {
      return most;
    },
    get done() {
      return done;
    },
    releaseAll: () => releases.splice(0).forEach((release) => release()),
  };
}

describe("drain pace", function () {
  it("runs at most `concurrency` hand-offs at once, and every one of them", async function () {
    const pace = createDrainPace({ concurrency: 3, rushAfterMs: 600_000 });
    const work = handOffs(10);
    const finished = Promise.all(work.all.map((handOff) => pace.run(handOff)));
    while (work.done < 10) {
      // A full batch runs (three, or what is left), the rest wait their turn.
      await waitFor(() => work.running === Math.min(3, 10 - work.done), { what: "a batch of hand-offs to run" });
      assert.equal(pace.waiting, Math.max(0, 10 - work.done - 3));
      const target = work.done + work.running;
      work.releaseAll();
      await waitFor(() => work.done >= target, { what: "the released hand-offs to finish" });
    }
    await finished;
    assert.equal(work.most, 3);
    assert.equal(pace.waiting, 0);
  });

  it("runs one more at once, at most every 50 ms, while the rooms still waiting would not be done by the deadline", async function () {
    let clock = 0;
    const pace = createDrainPace({ concurrency: 1, rushAfterMs: 5000, now: () => clock });
    const work = handOffs(10);
    const finished = Promise.all(work.all.map((handOff) => pace.run(handOff)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual({ running: work.running, waiting: pace.waiting }, { running: 1, waiting: 9 }, "one at first");
    // The first took 1 s: 9 left at that pace need 9 s, and 4 s are left: one more at once.
    clock = 1000;
    work.releaseAll();
    await waitFor(() => work.done === 1 && work.running === 2, { what: "two hand-offs to run" });
    assert.deepEqual({ concurrency: pace.concurrency, waiting: pace.waiting }, { concurrency: 2, waiting: 7 });
    // Still behind 20 ms later, but the last raise was less than RAISE_EVERY_MS ago: still two.
    clock = 1020;
    work.releaseAll();
    await waitFor(() => work.done === 3 && work.running === 2, { what: "the next two" });
    assert.equal(pace.concurrency, 2);
    // Slow again, a while later: one more.
    clock = 2500;
    work.releaseAll();
    await waitFor(() => work.done === 5 && work.running === 3, { what: "three hand-offs to run" });
    assert.equal(pace.concurrency, 3);
    while (work.done < 10) {
      work.releaseAll();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await finished;
  });

  it("starts every waiting hand-off at once after the rush deadline", async function () {
    const pace = createDrainPace({ concurrency: 2, rushAfterMs: 50 });
    const work = handOffs(8);
    const finished = Promise.all(work.all.map((handOff) => pace.run(handOff)));
    // One turn of the event loop (well before the 50 ms deadline): the first two have started.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual({ running: work.running, waiting: pace.waiting }, { running: 2, waiting: 6 }, "two at first");
    await waitFor(() => work.running === 8, { what: "every hand-off to start after the deadline" });
    work.releaseAll();
    await finished;
  });
});
