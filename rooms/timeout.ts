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
  // One promise and one timer per call (not a race of two promises and a finally): it is on every
  // store write of every message.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreTimeoutError(`store did not answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
