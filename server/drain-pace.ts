/**
 * Drain pacing: a draining node hands its rooms over `concurrency` at a time, so the joins and store
 * reads of a whole node's rooms reach the other nodes and the store in batches instead of at once.
 * Rooms waiting their turn keep serving. After each hand-off the pace checks that the rooms still
 * waiting will be done by `rushAfterMs` (counted from the first hand-off) at the hand-offs' mean
 * duration so far, and when they would not, runs one more at once (at most one more every
 * {@link RAISE_EVERY_MS}): a node with thousands of rooms spreads them over the window instead of
 * sending most at the deadline. One step at a time, because a hand-off takes longer the more run
 * at once on the same cores: raised straight to the computed number, a drain of 6,830 rooms went to
 * hundreds at once within a second, and every room paused about 500 ms. Once `rushAfterMs` has
 * passed, every room still waiting goes at once, so the drain still ends within DRAIN_TIMEOUT_MS.
 *
 * With `spreadMs`, hand-offs also start evenly over that window from the first: a node with 20
 * rooms and a 3.3 s window starts one every 167 ms
 * instead of all twenty within a few hundred milliseconds, so the replacements' creations, their
 * Redis claims and the clients' rejoins reach the fleet as a trickle rather than as a burst that
 * saturates the cores every other room's messages need. At thousands of rooms the starts are a
 * fraction of a millisecond apart and the concurrency is what paces them.
 *
 * The queue is p-limit's (its concurrency can be raised live); only the deadline, the spacing and
 * the rate are Parley's.
 */
import pLimit from "p-limit";

export type DrainPace = {
  run(handOff: () => Promise<void>): Promise<void>;
  /** Rooms waiting for their turn now. */
  readonly waiting: number;
  /** Hand-offs allowed at once now (raised to meet the deadline; unbounded after it). */
  readonly concurrency: number;
};

/** Weight of the newest hand-off in the running mean of their durations. */
const NEWEST_WEIGHT = 0.2;
/** The shortest time between two raises of the number of hand-offs at once. */
export const RAISE_EVERY_MS = 50;

export type DrainPaceOptions = {
  concurrency: number;
  rushAfterMs: number;
  /** Start the hand-offs spread over this long from the first (0: as fast as the concurrency allows). */
  spreadMs?: number;
  now?: () => number;
  /** How to wait for a hand-off's start (tests pass a controllable one). */
  sleep?: (ms: number) => Promise<void>;
};

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createDrainPace(options: DrainPaceOptions): DrainPace {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? sleepFor;
  const limit = pLimit(options.concurrency);
  let deadline: number | undefined;
  /** Rooms queued in all, and those whose hand-off has started. */
  let queued = 0;
  let startedCount = 0;
  /** The last start's turn: starts take their turns one after another, each after the one before it. */
  let lastTurn: Promise<void> = Promise.resolve();
  /**
   * Wait for this hand-off's time in the spread: the k-th of n starts at k/n of the window. A start
   * that finds its time passed goes at once, so a late one (a timer fires 1 ms late at the least,
   * and at thousands of rooms the times are a fraction of a millisecond apart) is caught up without
   * the lateness adding up.
   */
  const spaced = (): Promise<void> => {
    lastTurn = lastTurn.then(async () => {
      // The first run set the deadline a rush's length after the spread's start.
      const at = deadline! - options.rushAfterMs + (startedCount * (options.spreadMs ?? 0)) / queued;
      const wait = at - now();
      if (wait > 0 && limit.concurrency !== Number.POSITIVE_INFINITY) await sleep(wait);
      startedCount++;
    });
    return lastTurn;
  };
  let meanMs: number | undefined;
  let raisedAt = Number.NEGATIVE_INFINITY;
  /** One more at once when the rooms not yet done would not finish by the deadline at the mean duration. */
  const keepUp = (justDone: number) => {
    meanMs = meanMs === undefined ? justDone : meanMs * (1 - NEWEST_WEIGHT) + justDone * NEWEST_WEIGHT;
    if (deadline === undefined || limit.concurrency === Number.POSITIVE_INFINITY) return;
    const left = deadline - now();
    // The hand-off that just ended still counts as active in p-limit.
    const notDone = limit.pendingCount + limit.activeCount - 1;
    const needed = left <= 0 ? Number.POSITIVE_INFINITY : Math.ceil((notDone * meanMs) / left);
    if (needed <= limit.concurrency || now() - raisedAt < RAISE_EVERY_MS) return;
    raisedAt = now();
    limit.concurrency += 1;
  };
  return {
    run(handOff) {
      if (deadline === undefined) {
        deadline = now() + options.rushAfterMs;
        setTimeout(() => (limit.concurrency = Number.POSITIVE_INFINITY), options.rushAfterMs).unref();
      }
      queued++;
      return limit(async () => {
        await spaced();
        const started = now();
        try {
          await handOff();
        } finally {
          keepUp(now() - started);
        }
      });
    },
    get waiting() {
      return limit.pendingCount;
    },
    get concurrency() {
      return limit.concurrency;
    },
  };
}
