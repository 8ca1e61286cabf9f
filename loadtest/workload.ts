/**
 * The chat workload, the same for every system: members seated in conversations, open-loop senders
 * at a fixed total rate, each text carrying its send time so every member's receipt is timed.
 * Senders and receivers live in this process, so one monotonic clock times both ends.
 */
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";

/** What a client reports back to the meter. */
export type MemberEvents = {
  /** A chat message reached this member; `text` is the text as sent. */
  onDelivery(text: string): void;
  /** The server acknowledged one of this member's sends (systems with acks only). */
  onAck(latencyMs: number): void;
  /** A send was refused or the connection failed; `code` is the server's code or a local one. */
  onError(code: string): void;
};

/** One connected client of some system. */
export type Member = {
  send(text: string, clientMsgId: string): void;
  close(): Promise<void>;
};

/** Connects member `user` of conversation `conversation` to a system. */
export type Connector = (conversation: number, user: number, events: MemberEvents) => Promise<Member>;

/** Chat-like words to fill a text with (a filter meets what it would in a game, not one long run of a letter). */
const FILLER = "see you at the north gate after this round, bring potions and the map we found near the old mill. ";

/** A text of `bytes` ASCII bytes that starts with its send time: "<ms since process start> see you at…". */
export function timedText(bytes: number, now = performance.now()): string {
  const stamp = `${now.toFixed(3)} `;
  const length = Math.max(0, bytes - stamp.length);
  return stamp + FILLER.repeat(Math.ceil(length / FILLER.length)).slice(0, length);
}

/** Counts and latency histograms of messages sent from `windowStart` on; earlier traffic is ignored. */
export type Meter = {
  windowStart: number;
  sent: number;
  expected: number;
  delivered: number;
  acked: number;
  delivery: RecordableHistogram;
  ack: RecordableHistogram;
  errors: Map<string, number>;
  events: MemberEvents;
  /** Forget everything and count only what is sent from now on. */
  reset(): void;
};

/** Histograms hold whole microseconds; latencies under 1 µs count as 1 µs. */
const toMicros = (ms: number) => Math.max(1, Math.round(ms * 1000));

/** A meter whose `events` every member of a run reports to. */
export function createMeter(): Meter {
  const meter: Meter = {
    windowStart: Number.POSITIVE_INFINITY,
    sent: 0,
    expected: 0,
    delivered: 0,
    acked: 0,
    delivery: createHistogram(),
    ack: createHistogram(),
    errors: new Map(),
    events: {
      onDelivery(text) {
        const sentAt = Number.parseFloat(text);
        if (!(sentAt >= meter.windowStart)) return;
        meter.delivered++;
        meter.delivery.record(toMicros(performance.now() - sentAt));
      },
      onAck(latencyMs) {
        meter.acked++;
        meter.ack.record(toMicros(latencyMs));
      },
      onError(code) {
        meter.errors.set(code, (meter.errors.get(code) ?? 0) + 1);
      },
    },
    reset() {
      meter.windowStart = performance.now();
      meter.sent = meter.expected = meter.delivered = meter.acked = 0;
      meter.delivery.reset();
      meter.ack.reset();
      meter.errors.clear();
    },
  };
  return meter;
}

/** Latency percentiles in milliseconds. */
export function percentilesMs(histogram: RecordableHistogram) {
  if (histogram.count === 0) return { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const at = (p: number) => histogram.percentile(p) / 1000;
  return { p50: at(50), p95: at(95), p99: at(99), max: histogram.max / 1000 };
}

/** Makes clientMsgIds unique across runs against the same (durable) conversations. */
const RUN_ID = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** Members seated by conversation; every send is expected once by each member of its conversation. */
export type Seating = Member[][];

/** Seat `roomSize` members in each of `conversations` conversations, one join at a time. */
export async function seatAll(connector: Connector, conversations: number, roomSize: number, events: MemberEvents): Promise<Seating> {
  const seating: Seating = [];
  for (let c = 0; c < conversations; c++) {
    const members: Member[] = [];
    for (let u = 0; u < roomSize; u++) members.push(await connector(c, u, events));
    seating.push(members);
  }
  return seating;
}

/**
 * Send `ratePerSec` messages per second for `durationMs`, open loop: the schedule never waits for
 * replies, it catches up on each timer tick. Senders take turns round-robin across all members.
 */
export async function sendOpenLoop(seating: Seating, meter: Meter, opts: { ratePerSec: number; durationMs: number; textBytes: number; signal?: AbortSignal }): Promise<void> {
  const senders = seating.flatMap((members, conversation) => members.map((member) => ({ member, audience: seating[conversation]!.length })));
  if (senders.length === 0) return;
  const started = performance.now();
  let scheduled = 0;
  let next = 0;
  while (true) {
    const elapsed = performance.now() - started;
    const due = Math.floor((Math.min(elapsed, opts.durationMs) * opts.ratePerSec) / 1000) - scheduled;
    for (let i = 0; i < due; i++) {
      const sender = senders[next]!;
      next = (next + 1) % senders.length;
      sender.member.send(timedText(opts.textBytes), `${RUN_ID}-${Math.round(started)}-${scheduled + i}`);
      meter.sent++;
      meter.expected += sender.audience;
    }
    scheduled += Math.max(0, due);
    if (elapsed >= opts.durationMs || opts.signal?.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Wait until every expected delivery arrived, or `graceMs` passed. */
export async function drain(meter: Meter, graceMs: number): Promise<void> {
  const deadline = performance.now() + graceMs;
  while (meter.delivered < meter.expected && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
