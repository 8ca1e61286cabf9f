/**
 * The end of a load run: the summary as data (what `--json` writes), as text for people, and the
 * thresholds it is held to. Everything counts what the server accepted, not what was queued.
 */
import type { RecordableHistogram } from "node:perf_hooks";
import { OPERATIONS, REQUEST_KINDS, type RequestKind } from "./scenarios.ts";
import type { Tally } from "./tally.ts";
import { percentilesMs } from "./workload.ts";

/** Latency percentiles, ms; null when nothing was measured. */
export type Latency = { count: number; p50: number | null; p95: number | null; p99: number | null; max: number | null };

/** One request kind's line of the summary. */
export type KindSummary = {
  issued: number;
  attempts: number;
  answered: number;
  refusedByCode: Record<string, number>;
  failedByCode: Record<string, number>;
  latencyMs: Latency;
};

/** What `--json` writes. */
export type Summary = {
  tool: "parley-loadtest";
  runId: string;
  /** Starts every user id of the run; null when the users are whoever --token-file names. */
  userIdPrefix: string | null;
  startedAt: string;
  endpoints: string[];
  client: "kit" | "sdk";
  identities: "development" | "jwt-secret" | "token-file";
  settings: { clients: number; rooms: number; ratePerSec: number; durationSec: number; bytes: number; rampSec: number; mix: string; ackTimeoutMs: number; conversationPrefix: string };
  joins: { wanted: number; seated: number; seconds: number; failedByCode: Record<string, number>; attemptFailuresByCode: Record<string, number> };
  sendSeconds: number;
  /** Ctrl-C ended the load before --duration. */
  stoppedEarly: boolean;
  messages: {
    sent: number;
    acknowledged: number;
    refusedByCode: Record<string, number>;
    failedByCode: Record<string, number>;
    /** Sent, and neither acknowledged nor failed when the summary was taken. */
    unacknowledged: number;
    /** Deliveries owed: every message the server did not refuse, to each member of its conversation. */
    expectedDeliveries: number;
    /** Owed deliveries that never arrived. */
    lost: number;
    /** Deliveries of this run's messages, acknowledged or not. */
    delivered: number;
    /** Sends not followed for loss (past the tally's bound). */
    untracked: number;
    ackLatencyMs: Latency;
    deliveryLatencyMs: Latency;
  };
  requests: Partial<Record<RequestKind, KindSummary>>;
  connections: Record<string, number>;
  refusedPct: number;
  lostPct: number;
  thresholds: { maxRefusedPct: number; maxLostPct: number; exceeded: string[] };
};

export type RunFacts = Omit<Summary, "tool" | "joins" | "messages" | "requests" | "connections" | "refusedPct" | "lostPct" | "thresholds"> & {
  joins: { wanted: number; seated: number; seconds: number; failedByCode: Map<string, number> };
  thresholds: { maxRefusedPct: number; maxLostPct: number };
};

const record = (map: ReadonlyMap<string, number>): Record<string, number> => Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)));
const sum = (map: ReadonlyMap<string, number>) => [...map.values()].reduce((total, n) => total + n, 0);
const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

function latencyOf(histogram: RecordableHistogram): Latency {
  if (histogram.count === 0) return { count: 0, p50: null, p95: null, p99: null, max: null };
  const p = percentilesMs(histogram);
  return { count: histogram.count, p50: round(p.p50), p95: round(p.p95), p99: round(p.p99), max: round(p.max) };
}

/** The summary of a run from its tally, and which thresholds it exceeded. */
export function summarise(tally: Tally, facts: RunFacts): Summary {
  const requests: Partial<Record<RequestKind, KindSummary>> = {};
  let attempts = 0;
  let refusals = 0;
  for (const kind of REQUEST_KINDS) {
    const counts = tally.counts(kind);
    if (counts.issued === 0 && counts.attempts === 0) continue;
    requests[kind] = {
      issued: counts.issued,
      attempts: counts.attempts,
      answered: counts.answered,
      refusedByCode: record(counts.refusals),
      failedByCode: record(counts.failures),
      latencyMs: latencyOf(counts.latency),
    };
    // A typing refused by the server is dropped without a word, so it cannot count either way.
    if (kind === "typing") continue;
    attempts += counts.attempts;
    refusals += sum(counts.refusals);
  }
  const send = tally.counts("send");
  const refusedPct = attempts === 0 ? 0 : round((refusals / attempts) * 100);
  const lostPct = tally.expected === 0 ? 0 : round((tally.missing / tally.expected) * 100);
  const exceeded = [
    ...(refusedPct > facts.thresholds.maxRefusedPct ? [`--max-refused-pct ${facts.thresholds.maxRefusedPct}: ${refusedPct} % of requests were refused`] : []),
    ...(lostPct > facts.thresholds.maxLostPct ? [`--max-lost-pct ${facts.thresholds.maxLostPct}: ${lostPct} % of expected deliveries were lost`] : []),
  ];
  return {
    tool: "parley-loadtest",
    ...facts,
    joins: { ...facts.joins, failedByCode: record(facts.joins.failedByCode), attemptFailuresByCode: record(tally.joinAttemptFailures) },
    messages: {
      sent: send.issued,
      acknowledged: send.answered,
      refusedByCode: record(send.refusals),
      failedByCode: record(send.failures),
      unacknowledged: tally.pendingSends,
      expectedDeliveries: tally.expected,
      lost: tally.missing,
      delivered: tally.delivered,
      untracked: tally.untracked,
      ackLatencyMs: latencyOf(send.latency),
      deliveryLatencyMs: latencyOf(tally.deliveryLatency),
    },
    requests,
    connections: record(tally.connections),
    refusedPct,
    lostPct,
    thresholds: { ...facts.thresholds, exceeded },
  };
}

const ms = (value: number | null) => (value === null ? "–" : value.toFixed(1));
const codes = (counts: Record<string, number>) =>
  Object.keys(counts).length === 0
    ? "none"
    : Object.entries(counts)
        .map(([code, n]) => `${code} ${n}`)
        .join(", ");
const latencyLine = (name: string, latency: Latency) => `${name.padEnd(9)} p50 ${ms(latency.p50)}  p95 ${ms(latency.p95)}  p99 ${ms(latency.p99)}  max ${ms(latency.max)} ms`;

/** The summary as lines for a terminal. */
export function renderSummary(summary: Summary): string {
  const { joins, messages: m, settings } = summary;
  const perSec = (n: number) => (summary.sendSeconds > 0 ? (n / summary.sendSeconds).toFixed(0) : "–");
  const lines = [
    "",
    `summary (run ${summary.runId}, ${summary.userIdPrefix === null ? "users named by --token-file" : `users ${summary.userIdPrefix}*`}, ${summary.client === "kit" ? "client kit" : "bare SDK"}, ${summary.identities} identities)`,
    `joins     ${joins.seated} of ${joins.wanted} seated in ${joins.seconds.toFixed(1)} s; failed: ${codes(joins.failedByCode)}; failed join attempts (rejoins included): ${codes(joins.attemptFailuresByCode)}`,
    `messages  ${m.sent} sent in ${summary.sendSeconds.toFixed(1)} s${summary.stoppedEarly ? " (stopped early)" : ""} (${perSec(m.sent)}/s), ${m.acknowledged} acknowledged, ${m.unacknowledged} unacknowledged at the end`,
    `          refused attempts: ${codes(m.refusedByCode)}; failed: ${codes(m.failedByCode)}`,
    `delivery  ${m.expectedDeliveries - m.lost} of ${m.expectedDeliveries} expected (messages not refused, to each member), lost ${m.lost} (${summary.lostPct} %); ${m.delivered} deliveries in all (${perSec(m.delivered)}/s)${m.untracked > 0 ? `; ${m.untracked} sends not followed for loss` : ""}`,
    latencyLine("ack", m.ackLatencyMs),
    latencyLine("delivery", m.deliveryLatencyMs),
  ];
  const kinds = Object.entries(summary.requests) as Array<[RequestKind, KindSummary]>;
  if (kinds.some(([kind]) => kind !== "send") || settings.mix !== "send=100") {
    lines.push(`requests  ${"kind".padEnd(9)} ${"issued".padStart(7)} ${"on wire".padStart(8)} ${"answered".padStart(8)}  p50 ms   p99 ms  refused / failed`);
    for (const [kind, k] of kinds) {
      const operation = (OPERATIONS as readonly string[]).includes(kind);
      const issued = operation ? String(k.issued) : "–";
      const answered = kind === "typing" ? "no reply" : operation ? String(k.answered) : "–";
      lines.push(
        `          ${kind.padEnd(9)} ${issued.padStart(7)} ${String(k.attempts).padStart(8)} ${answered.padStart(8)} ${ms(k.latencyMs.p50).padStart(7)} ${ms(k.latencyMs.p99).padStart(8)}  ${codes(k.refusedByCode)} / ${codes(k.failedByCode)}`,
      );
    }
  }
  lines.push(`refused   ${summary.refusedPct} % of requests on the wire (threshold ${summary.thresholds.maxRefusedPct} %); lost ${summary.lostPct} % (threshold ${summary.thresholds.maxLostPct} %)`);
  if (Object.keys(summary.connections).length > 0) lines.push(`connections after seating: ${codes(summary.connections)}`);
  return lines.join("\n");
}
