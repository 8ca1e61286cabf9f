import type { Message } from "./history-store.ts";

/**
 * Messages in ascending seq, held as UTF-8 JSON in one buffer outside V8's heap, with their seqs,
 * offsets and lengths in typed arrays: what the in-memory store keeps of each conversation for the
 * life of the process. Held as heap objects (one JSON string each, even), every stored message was
 * promoted into the old generation and marked by every major collection from then on; bytes in a
 * buffer cost the collector nothing per message. Written by hand: no package keeps variable-length
 * records in an ArrayBuffer behind a sorted numeric index.
 *
 * (A conversation log's tail was tried on it too, dropping its oldest: in the delivery benchmark it
 * doubled the major collections, 8 against 4 in one sweep, so the tail stays one JSON string a
 * message on the heap.)
 *
 * Entries lie in the buffer in index order, one after another; the arrays and the buffer double when
 * full, and an insertion below the highest seq moves the entries above it. A rewritten entry (a tombstone)
 * takes its old place, padded with spaces, which JSON ignores; one that does not fit there is
 * rewritten with everything after it (rare: a tombstone is longer only than a message of under 15
 * characters).
 */
export class MessageBuffer {
  // Empty until the first message: a conversation that never gets one costs no buffers.
  #seqs = new Float64Array(0);
  #starts = new Float64Array(0);
  #lengths = new Uint32Array(0);
  #size = 0;
  #bytes = Buffer.alloc(0);
  /** Bytes in use. */
  #used = 0;

  /** How many messages it holds. */
  get size(): number {
    return this.#size;
  }

  /** The seq of the entry at `index` (0 is the oldest held). */
  seqAt(index: number): number {
    return this.#seqs[index]!;
  }

  /** The message at `index`, parsed: a copy. */
  messageAt(index: number): Message {
    const at = index;
    return JSON.parse(this.#bytes.toString("utf8", this.#starts[at], this.#starts[at]! + this.#lengths[at]!)) as Message;
  }

  /** The messages at indexes start..end-1. */
  messagesBetween(start: number, end: number): Message[] {
    const messages: Message[] = [];
    for (let index = start; index < end; index++) messages.push(this.messageAt(index));
    return messages;
  }

  /** The index of the first entry whose seq is above `seq` (`size` when none is). */
  indexAbove(seq: number): number {
    let low = 0;
    let high = this.#size;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#seqs[mid]! <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The index of `seq`, -1 when it is not held. */
  indexOf(seq: number): number {
    const index = this.indexAbove(seq) - 1;
    return index >= 0 && this.seqAt(index) === seq ? index : -1;
  }

  /** Add `message` as the newest entry; its seq must be above every held one. */
  push(message: Message): void {
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json);
    this.#makeRoom(length);
    const at = this.#size++;
    this.#bytes.write(json, this.#used, "utf8");
    this.#seqs[at] = message.seq;
    this.#starts[at] = this.#used;
    this.#lengths[at] = length;
    this.#used += length;
  }

  /** Insert `message` at `index`, where its seq keeps the order; entries from `index` on move up. */
  insert(index: number, message: Message): void {
    if (index === this.size) return this.push(message);
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json);
    this.#makeRoom(length);
    const at = index;
    this.#seqs.copyWithin(at + 1, at, this.#size);
    this.#starts.copyWithin(at + 1, at, this.#size);
    this.#lengths.copyWithin(at + 1, at, this.#size);
    this.#size++;
    const start = this.#starts[at + 1]!;
    // Entries after it move up by its length: they stay in index order in the buffer.
    this.#bytes.copy(this.#bytes, start + length, start, this.#used);
    for (let later = at + 1; later < this.#size; later++) this.#starts[later]! += length;
    this.#bytes.write(json, start, "utf8");
    this.#seqs[at] = message.seq;
    this.#starts[at] = start;
    this.#lengths[at] = length;
    this.#used += length;
  }

  /** Replace the entry at `index` with `message` (same seq). */
  replace(index: number, message: Message): void {
    const at = index;
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json);
    const room = this.#lengths[at]!;
    if (length <= room) {
      const start = this.#starts[at]!;
      this.#bytes.write(json, start, "utf8");
      this.#bytes.fill(0x20, start + length, start + room);
      return;
    }
    // Longer than its place: take it out, then put it back in at the same index.
    const kept = this.messagesBetween(index + 1, this.#size);
    this.#size = at;
    this.#used = this.#starts[at]!;
    this.push(message);
    for (const next of kept) this.push(next);
  }

  /** Make room for one more entry of `length` bytes: larger arrays and buffer when they are full. */
  #makeRoom(length: number): void {
    if (this.#size === this.#seqs.length) {
      const capacity = Math.max(16, this.#size * 2);
      this.#seqs = grown(this.#seqs, new Float64Array(capacity));
      this.#starts = grown(this.#starts, new Float64Array(capacity));
      this.#lengths = grown(this.#lengths, new Uint32Array(capacity));
    }
    if (this.#used + length <= this.#bytes.length) return;
    const bytes = Buffer.allocUnsafeSlow(Math.max(1024, (this.#used + length) * 2));
    this.#bytes.copy(bytes, 0, 0, this.#used);
    this.#bytes = bytes;
  }
}

function grown<T extends Float64Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
