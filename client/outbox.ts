/**
 * Outbox: the sends of one conversation not yet acknowledged, in the order the app made them. It
 * is bounded (a full outbox refuses with OUTBOX_FULL), outlives connections, and settles each send
 * exactly once. The conversation drives it; the outbox only keeps order, promises and deadlines.
 */
import { ParleyError } from "./errors.ts";
import type { SendAck } from "./protocol.ts";

/** One send waiting for its ack. */
export type OutboxEntry = {
  readonly clientMsgId: string;
  readonly text: string;
  /** Attempts that reached a socket. */
  attempts: number;
  /** Some attempt's outcome was unknown (timeout, closed socket, UNAVAILABLE): it may be stored. */
  maybeStored: boolean;
};

/** Options of an {@link Outbox}. */
export type OutboxOptions = {
  /** Sends held at once; one more is refused with OUTBOX_FULL. @default 100 */
  maxOutstanding?: number;
  /** Fail a send with TIMEOUT if no ack came this long after `send`; undefined waits until close. @default undefined */
  sendTimeoutMs?: number;
};

type Held = OutboxEntry & {
  resolve(ack: SendAck): void;
  reject(error: ParleyError): void;
  timer?: ReturnType<typeof setTimeout>;
};

/** The bounded, ordered queue of unacknowledged sends of one conversation. */
export class Outbox {
  readonly #entries: Held[] = [];
  readonly #maxOutstanding: number;
  readonly #sendTimeoutMs: number | undefined;

  constructor(options: OutboxOptions = {}) {
    this.#maxOutstanding = Math.max(1, options.maxOutstanding ?? 100);
    this.#sendTimeoutMs = options.sendTimeoutMs;
  }

  /** Sends waiting for an ack. */
  get size(): number {
    return this.#entries.length;
  }

  /** The oldest unacknowledged send: the only one that may be on the wire. */
  get head(): OutboxEntry | undefined {
    return this.#entries[0];
  }

  /** Queue a send; the promise settles once, with its ack or a ParleyError. Refuses when full. */
  add(clientMsgId: string, text: string): Promise<SendAck> {
    if (this.#entries.length >= this.#maxOutstanding) {
      return Promise.reject(new ParleyError("OUTBOX_FULL", `${this.#entries.length} sends are waiting for their ack (maxOutstanding ${this.#maxOutstanding})`));
    }
    return new Promise<SendAck>((resolve, reject) => {
      const entry: Held = { clientMsgId, text, attempts: 0, maybeStored: false, resolve, reject };
      if (this.#sendTimeoutMs !== undefined) {
        const timeoutMs = this.#sendTimeoutMs;
        entry.timer = setTimeout(() => {
          this.fail(entry, new ParleyError("TIMEOUT", `no ack within ${timeoutMs} ms`, { maybeStored: entry.attempts > 0 }));
        }, timeoutMs);
      }
      this.#entries.push(entry);
    });
  }

  /** Settle `entry` with its ack. False if it was already settled (a late reply). */
  acknowledge(entry: OutboxEntry, ack: SendAck): boolean {
    const held = this.#remove(entry);
    held?.resolve(ack);
    return held !== undefined;
  }

  /** Settle `entry` with an error. False if it was already settled. */
  fail(entry: OutboxEntry, error: ParleyError): boolean {
    const held = this.#remove(entry);
    held?.reject(error);
    return held !== undefined;
  }

  /** True while `entry` waits for its ack. */
  holds(entry: OutboxEntry): boolean {
    return this.#entries.includes(entry as Held);
  }

  /** Settle every entry with an error built for it (on close). Returns the entries failed. */
  failAll(errorFor: (entry: OutboxEntry) => ParleyError): OutboxEntry[] {
    const all = [...this.#entries];
    for (const entry of all) this.fail(entry, errorFor(entry));
    return all;
  }

  #remove(entry: OutboxEntry): Held | undefined {
    const index = this.#entries.indexOf(entry as Held);
    if (index < 0) return undefined;
    const [held] = this.#entries.splice(index, 1);
    if (held?.timer !== undefined) clearTimeout(held.timer);
    return held;
  }
}
