/**
 * Drain pacing: a draining node hands its rooms over `concurrency` at a time, so the joins and store
 * reads of a whole node's rooms reach the other nodes and the store in batches instead of at once.
 * Rooms waiting their turn keep serving. Once `rushAfterMs` has passed since the first hand-off,
 * every room still waiting goes at once, so the drain still ends within DRAIN_TIMEOUT_MS.
 *
 * The queue is p-limit's; only the deadline is Parley's (p-limit's concurrency can be raised live).
 */
import pLimit from "p-limit";

export type DrainPace = {
  run(handOff: () => Promise<void>): Promise<void>;
  /** Rooms waiting for their turn now. */
  readonly waiting: number;
};

export function createDrainPace(options: { concurrency: number; rushAfterMs: number }): DrainPace {
  const limit = pLimit(options.concurrency);
  let rushing = false;
  return {
    run(handOff) {
      if (!rushing) {
        rushing = true;
        setTimeout(() => (limit.concurrency = Number.POSITIVE_INFINITY), options.rushAfterMs).unref();
      }
      return limit(handOff);
    },
    get waiting() {
      return limit.pendingCount;
    },
  };
}
