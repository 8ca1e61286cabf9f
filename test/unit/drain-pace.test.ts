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

  it("with a spread, starts the hand-offs evenly over it, and one whose time has passed at once", async function () {
    let clock = 0;
    const waits: Array<{ ms: number; wake: () => void }> = [];
    const sleep = (ms: number) => new Promise<void>((wake) => waits.push({ ms, wake }));
    const pace = createDrainPace({ concurrency: 10, rushAfterMs: 5000, spreadMs: 1000, now: () => clock, sleep });
    const work = handOffs(5);
    const finished = Promise.all(work.all.map((handOff) => pace.run(handOff)));
    await waitFor(() => work.running === 1 && waits.length === 1, { what: "the first hand-off to start and the second to wait" });
    // Five over 1,000 ms: one every 200 ms, though the concurrency would allow all five at once.
    assert.equal(waits[0]!.ms, 200);
    // The second's timer fires late (at 400 ms): the third's time (400) has come, so it starts at once.
    clock = 400;
    waits.shift()!.wake();
    await waitFor(() => work.running === 3 && waits.length === 1, { what: "the second and third hand-offs to start" });
    assert.equal(waits[0]!.ms, 200, "the fourth waits for 600 ms");
    clock = 600;
    waits.shift()!.wake();
    await waitFor(() => work.running === 4 && waits.length === 1, { what: "the fourth" });
    assert.equal(waits[0]!.ms, 200, "the fifth waits for 800 ms");
    clock = 800;
    waits.shift()!.wake();
    await waitFor(() => work.running === 5, { what: "the last" });
    assert.equal(waits.length, 0);
    work.releaseAll();
    await finished;
  });

  it("without a spread, starts as many hand-offs as the concurrency allows at once", async function () {
    const waits: number[] = [];
    const pace = createDrainPace({ concurrency: 4, rushAfterMs: 5000, sleep: async (ms) => void waits.push(ms) });
    const work = handOffs(4);
    const finished = Promise.all(work.all.map((handOff) => pace.run(handOff)));
    await waitFor(() => work.running === 4, { what: "four hand-offs to run" });
    assert.deepEqual(waits, []);
    work.releaseAll();
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
