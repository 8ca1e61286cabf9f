/**
 * Outbox and send policy: bounded, ordered, settled once; retries and give-ups follow the
 * protocol v1 refusal codes.
 */
import assert from "node:assert/strict";
import { backoffDelayMs, DEFAULT_BACKOFF } from "../../client/backoff.ts";
import { EndpointRing } from "../../client/endpoints.ts";
import { ParleyError } from "../../client/errors.ts";
import { Outbox } from "../../client/outbox.ts";
import { decideAfterFailure } from "../../client/send-policy.ts";
import { waitFor } from "../../deploy/wait-for.ts";

const ack = (seq: number) => ({ seq, sentAt: new Date(0).toISOString(), duplicate: false });
const noJitter = () => 0;

describe("client Outbox", () => {
  it("keeps sends in call order and settles each with its own ack", async () => {
    const outbox = new Outbox();
    const first = outbox.add("a", "one");
    const second = outbox.add("b", "two");
    assert.equal(outbox.head?.clientMsgId, "a");
    assert.equal(outbox.acknowledge(outbox.head!, ack(1)), true);
    assert.equal(outbox.head?.clientMsgId, "b");
    outbox.acknowledge(outbox.head!, ack(2));
    assert.deepEqual([(await first).seq, (await second).seq], [1, 2]);
    assert.equal(outbox.size, 0);
  });

  it("refuses a send beyond maxOutstanding with OUTBOX_FULL and accepts again after an ack", async () => {
    const outbox = new Outbox({ maxOutstanding: 2 });
    void outbox.add("a", "one");
    void outbox.add("b", "two");
    await assert.rejects(outbox.add("c", "three"), (error: ParleyError) => error.code === "OUTBOX_FULL" && error.maybeStored === false);
    outbox.acknowledge(outbox.head!, ack(1));
    void outbox.add("c", "three");
    assert.equal(outbox.size, 2);
  });

  it("settles an entry once: a late ack after a failure is ignored", async () => {
    const outbox = new Outbox();
    const sent = outbox.add("a", "one");
    const entry = outbox.head!;
    assert.equal(outbox.fail(entry, new ParleyError("INVALID", "bad")), true);
    assert.equal(outbox.acknowledge(entry, ack(1)), false);
    await assert.rejects(sent, (error: ParleyError) => error.code === "INVALID");
  });

  it("fails a send with TIMEOUT after sendTimeoutMs, saying whether an attempt went out", async () => {
    const outbox = new Outbox({ sendTimeoutMs: 20 });
    const sent = outbox.add("a", "one");
    outbox.head!.attempts = 1;
    await assert.rejects(sent, (error: ParleyError) => error.code === "TIMEOUT" && error.maybeStored === true);
    await waitFor(() => outbox.size === 0, { what: "the timed-out entry to leave" });
  });

  it("fails everything on close with CLOSED", async () => {
    const outbox = new Outbox();
    const sends = [outbox.add("a", "1"), outbox.add("b", "2")];
    outbox.failAll((entry) => new ParleyError("CLOSED", "closed", { maybeStored: entry.clientMsgId === "a" }));
    const outcomes = await Promise.allSettled(sends);
    assert.deepEqual(
      outcomes.map((o) => o.status === "rejected" && (o.reason as ParleyError).maybeStored),
      [true, false],
    );
  });
});

describe("client send policy", () => {
  const refused = (code: "INVALID" | "TOO_LONG" | "FORBIDDEN" | "RATE_LIMITED" | "UNAVAILABLE", retryAfterMs?: number) => ({
    kind: "refused" as const,
    refusal: { code, message: code, retryAfterMs },
  });

  it("gives up on INVALID, TOO_LONG and FORBIDDEN with a typed error", () => {
    for (const code of ["INVALID", "TOO_LONG", "FORBIDDEN"] as const) {
      const decision = decideAfterFailure(refused(code), 1, false, DEFAULT_BACKOFF);
      assert.equal(decision.action, "give-up");
      assert.equal(decision.action === "give-up" && decision.error.code, code);
    }
  });

  it("waits at least retryAfterMs on RATE_LIMITED and does not count it as a possible store", () => {
    const decision = decideAfterFailure(refused("RATE_LIMITED", 700), 1, false, DEFAULT_BACKOFF, noJitter);
    assert.deepEqual(decision, { action: "retry", delayMs: 700, outcomeUnknown: false, suspectNode: false, needsRejoin: false });
  });

  it("retries UNAVAILABLE with growing backoff, as an unknown outcome", () => {
    const delays = [1, 2, 3].map((attempt) => {
      const decision = decideAfterFailure(refused("UNAVAILABLE"), attempt, false, DEFAULT_BACKOFF, noJitter);
      assert.equal(decision.action === "retry" && decision.outcomeUnknown, true);
      return decision.action === "retry" ? decision.delayMs : -1;
    });
    assert.deepEqual(delays, [100, 200, 400]);
  });

  it("treats a timeout as a suspect node and a closed socket as a rejoin, both unknown outcomes", () => {
    assert.deepEqual(decideAfterFailure({ kind: "timeout" }, 1, false, DEFAULT_BACKOFF), { action: "retry", delayMs: 0, outcomeUnknown: true, suspectNode: true, needsRejoin: false });
    assert.deepEqual(decideAfterFailure({ kind: "closed" }, 1, false, DEFAULT_BACKOFF), { action: "retry", delayMs: 0, outcomeUnknown: true, suspectNode: false, needsRejoin: true });
  });

  it("reports maybeStored on a give-up after an earlier unknown outcome", () => {
    const decision = decideAfterFailure(refused("FORBIDDEN"), 2, true, DEFAULT_BACKOFF);
    assert.equal(decision.action === "give-up" && decision.error.maybeStored, true);
  });
});

describe("client backoff and endpoints", () => {
  it("grows by the factor, caps at maxMs, and jitters only downwards", () => {
    const options = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((attempt) => backoffDelayMs(attempt, options, noJitter)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffDelayMs(2, options, () => 1),
      100,
    );
  });

  it("tries endpoints round-robin, moving past failed ones and staying on a healthy one", () => {
    const ring = new EndpointRing(["a", "b", "c"]);
    assert.equal(ring.pick(0), "a");
    ring.markFailed("a");
    assert.equal(ring.pick(0), "b");
    ring.markFailed("a");
    assert.equal(ring.pick(0), "b", "a second report of the same failure does not skip b");
    ring.markFailed("b");
    ring.markFailed("c");
    assert.equal(ring.pick(0), "a");
    ring.markHealthy("c");
    assert.deepEqual(
      [0, 1, 2].map((i) => ring.pick(i)),
      ["c", "a", "b"],
    );
  });
});
