/**
 * Node-level group commit: appends from every room of a node that arrive within a short window go
 * to the store in one ordered insertMany. Each room still gets its own AppendOutcome, so it
 * acknowledges and broadcasts only what the write stored.
 *
 * A conflict stops an ordered insert: rooms whose messages came before it are done, the room that
 * hit it gets the conflict, and rooms after it are written again in the next batch (their seqs are
 * still theirs: a room has at most one append in flight).
 */
import type { AppendMessages } from "../../rooms/conversation-log.ts";
import type { AppendOutcome, HistoryStore, Message } from "../../rooms/history-store.ts";
import { withTimeout } from "../../rooms/timeout.ts";

export type GroupCommitOptions = {
  /** Longest wait for more appends before writing; 0 writes every append on its own. @default 2 */
  windowMs: number;
  /** Most messages in one write. @default 500 */
  maxMessages: number;
  /** Most bytes of text in one write. @default 1 MiB */
  maxBytes: number;
  /** Most messages waiting for a write; beyond it appends fail at once (rooms refuse UNAVAILABLE). @default 10000 */
  maxQueuedMessages: number;
  /**
   * A write that has not settled by then is given up on: its appends fail (their rooms reconcile)
   * and the next batch goes out. Without it one hung driver call would stall every room of the
   * node. A write given up on may still land; the store's unique indexes fence that.
   */
  writeTimeoutMs: number;
  /**
   * Writes in flight at once. Each room has at most one append in flight, so concurrent batches
   * never hold two appends of one room and per-room order stays. @default 1
   */
  concurrency?: number;
  onBatch?: (messages: number, seconds: number) => void;
  onQueueDepth?: (messages: number) => void;
};

type Request = { messages: readonly Message[]; bytes: number; resolve: (outcome: AppendOutcome) => void; reject: (error: unknown) => void };

/** Wrap `store.appendMessages` with group commit. */
export function createGroupCommit(store: Pick<HistoryStore, "appendMessages">, options: GroupCommitOptions): AppendMessages {
  const timed = async (messages: readonly Message[]) => {
    const started = performance.now();
    const outcome = await store.appendMessages(messages);
    options.onBatch?.(messages.length, (performance.now() - started) / 1000);
    return outcome;
  };
  if (options.windowMs <= 0) return timed;

  let queue: Request[] = [];
  let queuedMessages = 0;
  const concurrency = Math.max(1, options.concurrency ?? 1);
  let writers = 0;
  let timer: NodeJS.Timeout | undefined;

  const depth = (delta: number) => {
    queuedMessages += delta;
    options.onQueueDepth?.(queuedMessages);
  };

  const takeBatch = (): Request[] => {
    const batch: Request[] = [];
    let count = 0;
    let bytes = 0;
    while (queue.length > 0) {
      const next = queue[0]!;
      if (batch.length > 0 && (count + next.messages.length > options.maxMessages || bytes + next.bytes > options.maxBytes)) break;
      batch.push(queue.shift()!);
      count += next.messages.length;
      bytes += next.bytes;
    }
    return batch;
  };

  /** One writer: batches from the queue until it is empty. Up to `concurrency` run at once. */
  const flush = async () => {
    timer = undefined;
    if (writers >= concurrency) return;
    writers++;
    try {
      while (queue.length > 0) {
        const batch = takeBatch();
        const messages = batch.flatMap((request) => request.messages);
        depth(-messages.length);
        let outcome: AppendOutcome;
        try {
          outcome = await withTimeout(timed(messages), options.writeTimeoutMs);
        } catch (error) {
          for (const request of batch) request.reject(error);
          continue;
        }
        const retry = settle(batch, outcome);
        if (retry.length > 0) {
          queue = [...retry, ...queue];
          depth(retry.reduce((sum, request) => sum + request.messages.length, 0));
        }
      }
    } finally {
      writers--;
    }
  };

  const schedule = () => {
    // While every writer is busy the queue grows into the next batch; a free writer waits the
    // window for more appends, unless a whole batch is waiting already.
    if (writers >= concurrency || timer) return;
    if (queuedMessages >= options.maxMessages) void flush();
    else timer = setTimeout(() => void flush(), options.windowMs);
  };

  return (messages) => {
    if (queuedMessages + messages.length > options.maxQueuedMessages) {
      return Promise.reject(new Error(`group commit queue is full (${queuedMessages} messages waiting)`));
    }
    return new Promise<AppendOutcome>((resolve, reject) => {
      const bytes = messages.reduce((sum, message) => sum + message.text.length * 2 + 200, 0);
      queue.push({ messages, bytes, resolve, reject });
      depth(messages.length);
      schedule();
    });
  };
}

/** Give each request its share of the outcome; return the requests to write again. */
function settle(batch: readonly Request[], outcome: AppendOutcome): Request[] {
  const failedAt = outcome.conflict ? outcome.stored : Number.POSITIVE_INFINITY;
  const retry: Request[] = [];
  let start = 0;
  for (const request of batch) {
    const end = start + request.messages.length;
    if (end <= failedAt) {
      request.resolve({ stored: request.messages.length });
    } else if (start <= failedAt) {
      const index = failedAt - start;
      request.resolve({ stored: index, conflict: { index, kind: outcome.conflict!.kind } });
    } else {
      retry.push(request);
    }
    start = end;
  }
  return retry;
}
