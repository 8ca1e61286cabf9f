/**
 * SeqTracker: turns live deliveries (at most once, possibly out of order around a rejoin) and sync
 * pages into one stream with every seq exactly once, ascending. It knows a gap exists whenever it
 * has seen a seq above the last one it released, and holds a bounded number of early messages.
 */
import type { Message } from "./protocol.ts";

/** Options of a {@link SeqTracker}. */
export type SeqTrackerOptions = {
  /** Seq already seen by the app; messages at or below it are dropped. @default 0 */
  lastSeq?: number;
  /** Early messages held while a gap is filled; beyond it the newest are dropped and sync fetches them. @default 1000 */
  maxBuffered?: number;
};

/** Per-conversation ordering state: last released seq, early arrivals, highest seq seen. */
export class SeqTracker {
  #lastSeq: number;
  #highestSeen: number;
  readonly #buffered = new Map<number, Message>();
  readonly #maxBuffered: number;
  #dropped = 0;

  constructor(options: SeqTrackerOptions = {}) {
    this.#lastSeq = options.lastSeq ?? 0;
    this.#highestSeen = this.#lastSeq;
    this.#maxBuffered = Math.max(0, options.maxBuffered ?? 1000);
  }

  /** The seq of the last message released to the app. */
  /** Forget everything: the history's epoch changed, so seqs seen before may be reused. */
  reset(): void {
    this.#lastSeq = 0;
    this.#highestSeen = 0;
    this.#buffered.clear();
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** True while some seq above `lastSeq` is known to exist but has not been released: sync from `lastSeq`. */
  get hasGap(): boolean {
    return this.#highestSeen > this.#lastSeq;
  }

  /** Early messages held, waiting for the gap below them. */
  get bufferedCount(): number {
    return this.#buffered.size;
  }

  /** Early messages dropped because the buffer was full (sync recovers them). */
  get droppedCount(): number {
    return this.#dropped;
  }

  /**
   * Offer one message (live or from sync). Returns what is now releasable in seq order: nothing
   * for a duplicate or an early message, else this one and any held messages it unblocks.
   */
  offer(message: Message): Message[] {
    const { seq } = message;
    if (seq <= this.#lastSeq || this.#buffered.has(seq)) return [];
    if (seq > this.#highestSeen) this.#highestSeen = seq;
    if (seq !== this.#lastSeq + 1) {
      this.#hold(message);
      return [];
    }
    this.#lastSeq = seq;
    return [message, ...this.#releaseHeld()];
  }

  /** Record that `seq` exists (an ack of our own send, say) without having its message. */
  noteExists(seq: number): void {
    if (seq > this.#highestSeen) this.#highestSeen = seq;
  }

  /**
   * Start the stream after `seq` without delivering what lies at or below it (joining at the
   * newest message). Returns held messages this unblocks.
   */
  skipTo(seq: number): Message[] {
    if (seq <= this.#lastSeq) return [];
    this.#lastSeq = seq;
    if (seq > this.#highestSeen) this.#highestSeen = seq;
    for (const held of this.#buffered.keys()) if (held <= seq) this.#buffered.delete(held);
    return this.#releaseHeld();
  }

  #releaseHeld(): Message[] {
    const released: Message[] = [];
    for (let next = this.#buffered.get(this.#lastSeq + 1); next; next = this.#buffered.get(this.#lastSeq + 1)) {
      this.#buffered.delete(next.seq);
      released.push(next);
      this.#lastSeq = next.seq;
    }
    return released;
  }

  /** Hold an early message; when full, keep the lowest seqs, since they unblock release first. */
  #hold(message: Message): void {
    this.#buffered.set(message.seq, message);
    if (this.#buffered.size <= this.#maxBuffered) return;
    let highest = message.seq;
    for (const seq of this.#buffered.keys()) if (seq > highest) highest = seq;
    this.#buffered.delete(highest);
    this.#dropped++;
  }
}
