/**
 * Exponential backoff with jitter, shared by rejoins, gap fills and resends.
 */

/** How retries space out. */
export type BackoffOptions = {
  /** Delay before the first retry. @default 100 */
  initialMs: number;
  /** Longest delay. @default 5000 */
  maxMs: number;
  /** Growth per attempt. @default 2 */
  factor: number;
  /** Fraction of each delay removed at random, so clients that failed together do not retry together. @default 0.2 */
  jitter: number;
};

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 });

/** Delay in ms before retry number `attempt` (1-based): initialMs·factor^(attempt-1), capped at maxMs, minus jitter. */
export function backoffDelayMs(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const step = Math.max(1, Math.floor(attempt));
  const raw = Math.min(options.maxMs, options.initialMs * options.factor ** (step - 1));
  const jitter = Math.min(1, Math.max(0, options.jitter));
  return Math.max(0, Math.round(raw * (1 - jitter * random())));
}

/** Resolve after `ms`; a cancelled wait resolves at once (the caller checks whether it still matters). */
export function delay(ms: number, signal?: { cancelled: boolean; onCancel?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.onCancel = () => {
        clearTimeout(timer);
        resolve();
      };
    }
  });
}
