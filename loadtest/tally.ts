/**
 * The tally of one load run: what the generator issued, what went on the wire, what the server
 * refused (by code), what it answered, and which expected deliveries arrived. Every message the
 * server did not refuse is owed to each member of its conversation: one never acknowledged (a node
 * died, the run ended with it still queued) and never delivered counts as lost, not as sent.
 */
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { Codes } from "../schema/index.ts";
import { REQUEST_KINDS, type Issuer, type Operation, type Reports, type RequestKind } from "./scenarios.ts";

/** Counts of one request kind. */
export type KindCounts = {
  /** Operations the schedule handed out. */
  issued: number;
  /** Requests (or plain messages) that went on the wire: retries by the kit included. */
  attempts: number;
  /** Operations that succeeded. */
  answered: number;
  /** Attempts the server refused, by code. */
  refusals: Map<string, number>;
  /** Operations that ended without success, by code (a final refusal or a local one). */
  failures: Map<string, number>;
  /** Issue-to-answer latency, µs. */
  latency: RecordableHistogram;
};

/**
 * Messages followed for loss at once. A message stops being followed once every expected delivery
 * arrived (or the server refused it), so this bounds only what is still outstanding or lost; past
 * it a send is still counted, but not followed (reported as `untracked`).
 */
export const MAX_FOLLOWED_MESSAGES = 200_000;

type Followed = { audience: number; delivered: number; acked: boolean };

/** A final refusal that says the message was not stored; UNAVAILABLE leaves that open. */
const refusedForGood = (code: string) => Object.hasOwn(Codes, code) && code !== "UNAVAILABLE";

/** Histograms hold whole microseconds; latencies under 1 µs count as 1 µs. */
const toMicros = (ms: number) => Math.max(1, Math.round(ms * 1000));

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

/** The tally of a run, and the Reports every member writes to. */
export class Tally implements Reports, Issuer {
  readonly kinds: ReadonlyMap<RequestKind, KindCounts> = new Map(
    REQUEST_KINDS.map((kind) => [kind, { issued: 0, attempts: 0, answered: 0, refusals: new Map(), failures: new Map(), latency: createHistogram() }]),
  );
  /** Send-to-receipt latency of every delivery of this run's messages, µs. */
  readonly deliveryLatency = createHistogram();
  readonly joinAttemptFailures = new Map<string, number>();
  readonly connections = new Map<string, number>();
  /** Deliveries of this run's messages, acknowledged or not. */
  delivered = 0;
  /** Sends past MAX_FOLLOWED_MESSAGES, counted but not followed for loss. */
  untracked = 0;
  /** Deliveries owed: the audience of every followed message the server did not refuse, summed. */
  expected = 0;
  /** Owed deliveries that arrived. */
  deliveredOfExpected = 0;
  readonly #followed = new Map<string, Followed>();
  readonly #runPrefix: string;

  /** `runId` starts every clientMsgId of this run; deliveries of anyone else's messages are ignored. */
  constructor(runId: string) {
    this.#runPrefix = `${runId}-`;
  }

  counts(kind: RequestKind): KindCounts {
    return this.kinds.get(kind)!;
  }

  issued(kind: Operation): void {
    this.counts(kind).issued++;
  }

  messageSent(clientMsgId: string, audience: number): void {
    if (this.#followed.size >= MAX_FOLLOWED_MESSAGES) return void this.untracked++;
    this.#followed.set(clientMsgId, { audience, delivered: 0, acked: false });
    this.expected += audience;
  }

  attempt(kind: RequestKind): void {
    this.counts(kind).attempts++;
  }

  refusal(kind: RequestKind, code: string): void {
    bump(this.counts(kind).refusals, code);
  }

  answered(kind: Operation, latencyMs: number, clientMsgId?: string): void {
    const counts = this.counts(kind);
    counts.answered++;
    counts.latency.record(toMicros(latencyMs));
    if (kind !== "send" || clientMsgId === undefined) return;
    const followed = this.#followed.get(clientMsgId);
    if (!followed) return;
    followed.acked = true;
    this.#forgetIfComplete(clientMsgId, followed);
  }

  failed(kind: Operation, code: string, clientMsgId?: string): void {
    bump(this.counts(kind).failures, code);
    if (kind !== "send" || clientMsgId === undefined || !refusedForGood(code)) return;
    // Refused, so never stored: nothing is owed for it. A timeout or a closed socket owes on.
    const followed = this.#followed.get(clientMsgId);
    if (!followed || followed.acked) return;
    this.expected -= followed.audience;
    this.deliveredOfExpected -= Math.min(followed.delivered, followed.audience);
    this.#followed.delete(clientMsgId);
  }

  delivery(clientMsgId: string, text: string): void {
    if (!clientMsgId.startsWith(this.#runPrefix)) return;
    this.delivered++;
    const sentAt = Number.parseFloat(text);
    if (Number.isFinite(sentAt)) this.deliveryLatency.record(toMicros(performance.now() - sentAt));
    const followed = this.#followed.get(clientMsgId);
    if (!followed) return;
    followed.delivered++;
    if (followed.delivered <= followed.audience) this.deliveredOfExpected++;
    this.#forgetIfComplete(clientMsgId, followed);
  }

  joinAttemptFailed(code: string): void {
    bump(this.joinAttemptFailures, code);
  }

  connection(event: string): void {
    bump(this.connections, event);
  }

  /** Sends issued that neither an ack nor a failure has ended yet. */
  get pendingSends(): number {
    const send = this.counts("send");
    return send.issued - send.answered - [...send.failures.values()].reduce((sum, n) => sum + n, 0);
  }

  /** Owed deliveries still missing. */
  get missing(): number {
    return this.expected - this.deliveredOfExpected;
  }

  #forgetIfComplete(clientMsgId: string, followed: Followed): void {
    if (followed.acked && followed.delivered >= followed.audience) this.#followed.delete(clientMsgId);
  }
}
