import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from "rate-limiter-flexible";

/** Answers whether a key may act now, and if not, how long until it may. */
export interface RateLimit {
  /** Take one point for `key`; resolves `undefined` if allowed, else the ms to wait. */
  take(key: string): Promise<number | undefined>;
}

/**
 * A node-local limiter: `perSecond` sustained, plus `burst` extra points refilled over 10 s.
 * Across a cluster each node limits on its own; a shared Redis limiter can replace it
 * (rate-limiter-flexible's RateLimiterRedis) without touching rooms.
 */
export function createMemoryRateLimit(perSecond: number, burst: number): RateLimit {
  const steady = new RateLimiterMemory({ points: perSecond, duration: 1 });
  const limiter = burst > 0 ? new BurstyRateLimiter(steady, new RateLimiterMemory({ keyPrefix: "burst", points: burst, duration: 10 })) : steady;
  return {
    async take(key) {
      try {
        await limiter.consume(key, 1);
        return undefined;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext);
        throw rejection;
      }
    },
  };
}
