import { TokenBucket } from "limiter";

/** Answers whether a key may act now, and if not, how long until it may. */
export interface RateLimit {
  /** Take one point for `key`: `undefined` if allowed, else the ms to wait. */
  take(key: string): number | undefined;
}

/** A node-local rate limit with what it holds in view, for tests. */
export interface MemoryRateLimit extends RateLimit {
  /** Keys held now: those that acted within the last refill. */
  readonly size: number;
  /** Forget keys whose buckets are full again (a full bucket is what a new key starts with). */
  sweep(): void;
  /** Stop the periodic sweep. */
  close(): void;
}

/** How often idle keys are forgotten. */
const SWEEP_MS = 10_000;
/** The burst refills over this long. */
const BURST_REFILL_MS = 10_000;

type Buckets = { steady: TokenBucket; burst: TokenBucket | undefined };

/** A token bucket that starts full (limiter's start empty). */
function fullBucket(size: number, intervalMs: number): TokenBucket {
  const bucket = new TokenBucket({ bucketSize: size, tokensPerInterval: size, interval: intervalMs });
  bucket.content = size;
  return bucket;
}

const isFull = (bucket: TokenBucket | undefined): boolean => {
  if (bucket === undefined) return true;
  bucket.drip();
  return bucket.content >= bucket.bucketSize;
};

/**
 * A node-local limiter: `perSecond` sustained, plus `burst` extra points refilled over 10 s. Each
 * key has a token bucket of `perSecond` refilled every second, and a second one of `burst` refilled
 * over 10 s that pays for what the first cannot; a key is forgotten once both are full again, so
 * memory holds only the keys that acted lately.
 *
 * Synchronous and without a timer per key: `limiter`'s buckets compute their refill when asked.
 * rate-limiter-flexible's memory limiter, used here before, answered each take with a promise and a
 * result object and kept a timer per key and window: three to four times the CPU a message in
 * process, though the delivery benchmark cannot tell the two apart (docs/measurements.md,
 * "Fourteenth session"). It still keeps the per-minute bounds on joins and moderation, where its
 * fixed windows are the documented rule and its cost does not matter. Across a cluster each node
 * limits on its own.
 */
export function createMemoryRateLimit(perSecond: number, burst: number): MemoryRateLimit {
  // limiter's bucket of size 0 lets everything through: a rate of 0 must not mean "no limit".
  if (!(perSecond >= 1) || !(burst >= 0)) throw new RangeError(`a rate limit takes perSecond >= 1 and burst >= 0 (got ${perSecond} and ${burst})`);
  const keys = new Map<string, Buckets>();
  const sweep = () => {
    for (const [key, buckets] of keys) if (isFull(buckets.steady) && isFull(buckets.burst)) keys.delete(key);
  };
  const timer = setInterval(sweep, SWEEP_MS).unref();
  return {
    take(key) {
      let buckets = keys.get(key);
      if (buckets === undefined) {
        buckets = { steady: fullBucket(perSecond, 1000), burst: burst > 0 ? fullBucket(burst, BURST_REFILL_MS) : undefined };
        keys.set(key, buckets);
      }
      const { steady, burst: extra } = buckets;
      if (steady.tryRemoveTokens(1) || extra?.tryRemoveTokens(1)) return undefined;
      const waitMs = Math.min(steady.getWaitTime(1), extra?.getWaitTime(1) ?? Number.POSITIVE_INFINITY);
      return Math.max(1, waitMs);
    },
    get size() {
      return keys.size;
    },
    sweep,
    close: () => clearInterval(timer),
  };
}
