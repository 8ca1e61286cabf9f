/**
 * Bounding a call to the store: a call that has not settled in time is treated as failed, while
 * what it asked for may still happen.
 */

/** The store did not answer in time; what it was asked may still happen. */
export class StoreTimeoutError extends Error {
  override name = "StoreTimeoutError";
}

/** Reject with a StoreTimeoutError if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(`store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
