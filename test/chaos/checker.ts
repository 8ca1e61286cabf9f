/**
 * The chaos checker: a pure function from what every simulated client logged and the final read of
 * the store to a Jepsen-style verdict (nothing acknowledged lost, nothing stored twice or out of
 * thin air, every receiver saw every message once and in order, everyone caught up), plus delivery
 * latency per time window. It reads no files and no clock, so unit tests feed it crafted histories.
 */
import type { TraceEvent } from "../../client/trace.ts";

/** What one simulated client logged (JSONL lines parsed): the kit's trace events plus the harness's join/leave markers. */
export type LogEvent = TraceEvent | { type: "joined"; conversationId: string; lastSeq: number; t: number } | { type: "left"; conversationId: string; lastSeq: number; t: number };
/** One simulated client's history; `userId` is the sender id the server stores for its sends. */
export type ClientLog = { clientId: string; userId: string; events: LogEvent[] };
/** The final read of the store, per conversation, ascending by seq. */
export type StoredMessage = { conversationId: string; seq: number; senderId: string; clientMsgId: string };
/** A named time window (ms since epoch, [from, to)) for latency reporting: e.g. "before", "fault", "after". */
export type Window = { name: string; from: number; to: number };
/** One anomaly; `kind` names which rule it breaks, `clientId` the client that saw it, if one did. */
export type Finding = { kind: string; conversationId: string; detail: string; clientId?: string };
/** Delivery latency (receive t minus the first send t) of the messages sent inside one window. */
export type LatencyRow = { window: string; deliveries: number; p50Ms: number; p99Ms: number; maxMs: number };
/** The checker's verdict on one run. */
export type CheckReport = {
  invoked: number;
  acked: number;
  stored: number;
  delivered: number;
  lost: Finding[];
  duplicated: Finding[];
  unexpected: Finding[];
  orderViolations: Finding[];
  gaps: Finding[];
  notCaughtUp: Finding[];
  /** Sends that never got an ack nor a final fail (should be 0 after healing; reported, not judged). */
  unknownOutcomes: number;
  latency: LatencyRow[];
  /** True when lost, duplicated, unexpected, orderViolations, gaps and notCaughtUp are all empty. */
  ok: boolean;
};

/** The name of the latency row that holds every sample, whatever its window. */
export const ALL_WINDOW = "all";

/**
 * A map keyed by (conversation, sender, clientMsgId), the protocol's dedup key. Nested maps rather
 * than a joined string key, so the per-receive lookup allocates nothing.
 */
class IdentityMap<V> {
  readonly #conversations = new Map<string, Map<string, Map<string, V>>>();

  get(conversationId: string, senderId: string, clientMsgId: string): V | undefined {
    return this.#conversations.get(conversationId)?.get(senderId)?.get(clientMsgId);
  }

  set(conversationId: string, senderId: string, clientMsgId: string, value: V): void {
    let senders = this.#conversations.get(conversationId);
    if (!senders) this.#conversations.set(conversationId, (senders = new Map()));
    let ids = senders.get(senderId);
    if (!ids) senders.set(senderId, (ids = new Map()));
    ids.set(clientMsgId, value);
  }

  delete(conversationId: string, senderId: string, clientMsgId: string): void {
    this.#conversations.get(conversationId)?.get(senderId)?.delete(clientMsgId);
  }
}
/** A (conversation, clientMsgId) identity inside one client's log. */
const sendKey = (conversationId: string, clientMsgId: string): string => `${conversationId}\u0000${clientMsgId}`;

/** One conversation of the store, indexed for lookups by seq and by identity. */
type StoredConversation = { bySeq: Map<number, StoredMessage>; lastSeq: number };
type StoreIndex = {
  conversations: Map<string, StoredConversation>;
  /** Every seq each identity is stored under (more than one is a duplicate). */
  seqsByKey: IdentityMap<number[]>;
  /** Every message with a valid seq, duplicates included, under its map key's conversation. */
  messages: { conversationId: string; message: StoredMessage }[];
  stored: number;
};

/** Check one run: see CheckReport for what each field counts. */
export function check(input: { logs: ClientLog[]; stored: Map<string, StoredMessage[]>; windows: Window[] }): CheckReport {
  const { logs, stored, windows } = input;
  const duplicated: Finding[] = [];
  const gaps: Finding[] = [];
  const unexpected: Finding[] = [];
  const store = indexStore(stored, duplicated, gaps, unexpected);
  const sends = checkSends(logs, store, unexpected);
  const deliveries = checkDeliveries(logs, store);
  const report: Omit<CheckReport, "ok"> = {
    invoked: sends.invoked,
    acked: sends.acked,
    stored: store.stored,
    delivered: deliveries.delivered,
    lost: sends.lost,
    duplicated,
    unexpected,
    orderViolations: deliveries.orderViolations,
    gaps: [...gaps, ...deliveries.gaps],
    notCaughtUp: deliveries.notCaughtUp,
    unknownOutcomes: sends.unknownOutcomes,
    latency: measureLatency(logs, sends.firstSendAt, windows),
  };
  const ok = [report.lost, report.duplicated, report.unexpected, report.orderViolations, report.gaps, report.notCaughtUp].every((findings) => findings.length === 0);
  return { ...report, ok };
}

/**
 * Index the store and judge it on its own: an identity or a seq stored twice is `duplicated`, a
 * missing seq in 1..last is a `store-gap`, and a seq that is not a positive integer is `unexpected`.
 * The map's key is taken as the conversation, whatever each message says.
 */
function indexStore(stored: Map<string, StoredMessage[]>, duplicated: Finding[], gaps: Finding[], unexpected: Finding[]): StoreIndex {
  const conversations = new Map<string, StoredConversation>();
  const seqsByKey = new IdentityMap<number[]>();
  const all: StoreIndex["messages"] = [];
  let count = 0;
  for (const [conversationId, messages] of stored) {
    const bySeq = new Map<number, StoredMessage>();
    let lastSeq = 0;
    for (const message of messages) {
      count++;
      if (!Number.isInteger(message.seq) || message.seq < 1) {
        unexpected.push({ kind: "invalid-seq", conversationId, detail: `${describe(message)} is stored under seq ${message.seq}, not a positive integer` });
        continue;
      }
      all.push({ conversationId, message });
      const taken = bySeq.get(message.seq);
      if (taken) {
        duplicated.push({ kind: "duplicate-seq", conversationId, detail: `seq ${message.seq} is stored twice: ${describe(taken)} and ${describe(message)}` });
      } else {
        bySeq.set(message.seq, message);
      }
      if (message.seq > lastSeq) lastSeq = message.seq;
      const seqs = seqsByKey.get(conversationId, message.senderId, message.clientMsgId);
      if (seqs) {
        duplicated.push({ kind: "duplicate-message", conversationId, detail: `${describe(message)} is stored again at seq ${message.seq}, first at seq ${seqs[0]}` });
        seqs.push(message.seq);
      } else {
        seqsByKey.set(conversationId, message.senderId, message.clientMsgId, [message.seq]);
      }
    }
    const seqs = [...bySeq.keys()].sort((a, b) => a - b);
    let expected = 1;
    for (const seq of seqs) {
      if (seq > expected) gaps.push({ kind: "store-gap", conversationId, detail: `the store has no ${range(expected, seq - 1)}` });
      expected = seq + 1;
    }
    conversations.set(conversationId, { bySeq, lastSeq });
  }
  return { conversations, seqsByKey, messages: all, stored: count };
}

type SendResults = {
  invoked: number;
  acked: number;
  unknownOutcomes: number;
  lost: Finding[];
  /** The earliest `send` t of each identity, for latency. */
  firstSendAt: IdentityMap<number>;
};

/**
 * Judge the writes: every acknowledged send is stored exactly under the acknowledged seq (else
 * `lost`), every stored message was invoked by a client of its sender (else `unexpected`), and a
 * send that failed with `maybeStored: false` is not stored (else `unexpected`, kind
 * "stored-after-definite-fail": the kit told the app it did not happen).
 */
function checkSends(logs: ClientLog[], store: StoreIndex, unexpected: Finding[]): SendResults {
  const lost: Finding[] = [];
  const firstSendAt = new IdentityMap<number>();
  /** Per identity, the first seq acknowledged and by which client, to catch contradicting acks. */
  const ackedSeq = new IdentityMap<{ seq: number; clientId: string }>();
  /** Per identity, the seqs whose acks were judged, so a resend's duplicate ack is not reported twice. */
  const judgedAcks = new IdentityMap<Set<number>>();
  /** Per identity whose last word was a fail with maybeStored false, the client that got it. */
  const definitelyFailed = new IdentityMap<string>();
  let invoked = 0;
  let acked = 0;
  let unknownOutcomes = 0;

  for (const log of logs) {
    const sent = new Set<string>();
    const settled = new Set<string>();
    const ackedHere = new Set<string>();
    for (const event of log.events) {
      if (event.type === "send") {
        const local = sendKey(event.conversationId, event.clientMsgId);
        // A resend reopens the operation: its outcome is whatever settles it next.
        definitelyFailed.delete(event.conversationId, log.userId, event.clientMsgId);
        settled.delete(local);
        if (sent.has(local)) continue;
        sent.add(local);
        invoked++;
        const first = firstSendAt.get(event.conversationId, log.userId, event.clientMsgId);
        if (first === undefined || event.t < first) firstSendAt.set(event.conversationId, log.userId, event.clientMsgId, event.t);
      } else if (event.type === "fail") {
        settled.add(sendKey(event.conversationId, event.clientMsgId));
        // Only the last word counts: a later resend, or a fail that may have stored it, undoes a definite fail.
        if (event.maybeStored) definitelyFailed.delete(event.conversationId, log.userId, event.clientMsgId);
        else definitelyFailed.set(event.conversationId, log.userId, event.clientMsgId, log.clientId);
      } else if (event.type === "ack") {
        const local = sendKey(event.conversationId, event.clientMsgId);
        settled.add(local);
        if (!ackedHere.has(local)) {
          ackedHere.add(local);
          acked++;
        }
        judgeAck(log, event, store, ackedSeq, judgedAcks, lost);
      }
    }
    for (const local of sent) if (!settled.has(local)) unknownOutcomes++;
  }

  for (const { conversationId, message } of store.messages) {
    const { senderId, clientMsgId } = message;
    if (firstSendAt.get(conversationId, senderId, clientMsgId) === undefined) {
      unexpected.push({ kind: "never-sent", conversationId, detail: `${describe(message)} at seq ${message.seq} was never sent by a client of ${message.senderId}` });
    }
    const failedBy = definitelyFailed.get(conversationId, senderId, clientMsgId);
    if (failedBy !== undefined && ackedSeq.get(conversationId, senderId, clientMsgId) === undefined) {
      unexpected.push({
        kind: "stored-after-definite-fail",
        conversationId,
        clientId: failedBy,
        detail: `${describe(message)} is stored at seq ${message.seq} though its send failed with maybeStored false`,
      });
    }
  }
  return { invoked, acked, unknownOutcomes, lost, firstSendAt };
}

/** One ack: it must agree with every other ack of its identity and with the store. */
function judgeAck(
  log: ClientLog,
  ack: Extract<LogEvent, { type: "ack" }>,
  store: StoreIndex,
  ackedSeq: IdentityMap<{ seq: number; clientId: string }>,
  judgedAcks: IdentityMap<Set<number>>,
  lost: Finding[],
): void {
  const { conversationId, clientMsgId, seq } = ack;
  const senderId = log.userId;
  let judged = judgedAcks.get(conversationId, senderId, clientMsgId);
  if (!judged) judgedAcks.set(conversationId, senderId, clientMsgId, (judged = new Set()));
  if (judged.has(seq)) return;
  judged.add(seq);
  const name = `${senderId}/${clientMsgId}`;
  const earlier = ackedSeq.get(conversationId, senderId, clientMsgId);
  if (!earlier) {
    ackedSeq.set(conversationId, senderId, clientMsgId, { seq, clientId: log.clientId });
  } else if (earlier.seq !== ack.seq) {
    lost.push({
      kind: "ack-inconsistent",
      conversationId: conversationId,
      clientId: log.clientId,
      detail: `${name} was acknowledged with seq ${seq} here and with seq ${earlier.seq} to ${earlier.clientId}`,
    });
  }
  const storedSeqs = store.seqsByKey.get(conversationId, senderId, clientMsgId);
  if (!storedSeqs) {
    lost.push({ kind: "acked-missing", conversationId: conversationId, clientId: log.clientId, detail: `${name} was acknowledged with seq ${seq} but is not in the store` });
  } else if (!storedSeqs.includes(seq)) {
    lost.push({
      kind: "acked-wrong-seq",
      conversationId: conversationId,
      clientId: log.clientId,
      detail: `${name} was acknowledged with seq ${seq} but is stored at seq ${storedSeqs.join(", ")}`,
    });
  }
}

type DeliveryResults = { delivered: number; orderViolations: Finding[]; gaps: Finding[]; notCaughtUp: Finding[] };

/** What one client has seen of one conversation, while its log is replayed. */
type Receiver = {
  /** The highest seq the client has (from the joined marker or a receive). */
  position: number;
  /** Seqs received or held since joining, to tell a duplicate delivery from a late one. */
  seen: Set<number>;
  /** Everything at or below this the client had before joining. */
  baseline: number;
  joined: boolean;
  /** Where the client ended: the last left marker, or its position after a later join or receive. */
  final: number;
};

/**
 * Judge every receiver: per client and conversation, receives continue at joined.lastSeq + 1 and
 * step by exactly one, each matching the store's message at that seq; at the end the client is at
 * the store's last seq.
 */
function checkDeliveries(logs: ClientLog[], store: StoreIndex): DeliveryResults {
  const orderViolations: Finding[] = [];
  const gaps: Finding[] = [];
  const notCaughtUp: Finding[] = [];
  let delivered = 0;
  for (const log of logs) {
    const receivers = new Map<string, Receiver>();
    for (const event of log.events) {
      if (event.type === "joined") {
        receivers.set(event.conversationId, { position: event.lastSeq, seen: new Set(), baseline: event.lastSeq, joined: true, final: event.lastSeq });
      } else if (event.type === "left") {
        const receiver = receivers.get(event.conversationId);
        if (receiver) receiver.final = event.lastSeq;
        else receivers.set(event.conversationId, { position: event.lastSeq, seen: new Set(), baseline: event.lastSeq, joined: false, final: event.lastSeq });
      } else if (event.type === "receive") {
        delivered++;
        let receiver = receivers.get(event.conversationId);
        if (!receiver?.joined) {
          // Without a joined marker the start is unknown: report it once, then take this receive as the start.
          orderViolations.push({ kind: "receive-before-join", conversationId: event.conversationId, clientId: log.clientId, detail: `seq ${event.seq} was received before a joined marker` });
          receiver = { position: event.seq - 1, seen: new Set(), baseline: event.seq - 1, joined: true, final: event.seq - 1 };
          receivers.set(event.conversationId, receiver);
        }
        judgeReceive(log.clientId, event, receiver, store, orderViolations, gaps);
      }
    }
    for (const [conversationId, receiver] of receivers) {
      const lastSeq = store.conversations.get(conversationId)?.lastSeq ?? 0;
      if (receiver.final < lastSeq) {
        notCaughtUp.push({ kind: "not-caught-up", conversationId, clientId: log.clientId, detail: `ended at seq ${receiver.final}, the store's last seq is ${lastSeq}` });
      }
    }
  }
  return { delivered, orderViolations, gaps, notCaughtUp };
}

function judgeReceive(clientId: string, event: Extract<LogEvent, { type: "receive" }>, receiver: Receiver, store: StoreIndex, orderViolations: Finding[], gaps: Finding[]): void {
  const { conversationId, seq } = event;
  if (seq <= receiver.position) {
    const again = receiver.seen.has(seq) || seq <= receiver.baseline;
    orderViolations.push({
      kind: again ? "duplicate-delivery" : "reorder",
      conversationId,
      clientId,
      detail: again ? `seq ${seq} was delivered again (at seq ${receiver.position})` : `seq ${seq} arrived after seq ${receiver.position}`,
    });
  } else {
    if (seq > receiver.position + 1)
      gaps.push({ kind: "delivery-gap", conversationId, clientId, detail: `jumped from seq ${receiver.position} to ${seq}, missing ${range(receiver.position + 1, seq - 1)}` });
    receiver.position = seq;
  }
  receiver.seen.add(seq);
  receiver.final = receiver.position;
  const storedMessage = store.conversations.get(conversationId)?.bySeq.get(seq);
  if (!storedMessage) {
    orderViolations.push({ kind: "wrong-message", conversationId, clientId, detail: `received ${event.senderId}/${event.clientMsgId} at seq ${seq}, but the store has nothing at that seq` });
  } else if (storedMessage.senderId !== event.senderId || storedMessage.clientMsgId !== event.clientMsgId) {
    orderViolations.push({ kind: "wrong-message", conversationId, clientId, detail: `received ${event.senderId}/${event.clientMsgId} at seq ${seq}, the store has ${describe(storedMessage)} there` });
  }
}

/**
 * Delivery latency of every receive of a message some logged client sent, bucketed by the window
 * that holds its first send (a window that overlaps another shares the sample), plus ALL_WINDOW.
 */
function measureLatency(logs: ClientLog[], firstSendAt: IdentityMap<number>, windows: Window[]): LatencyRow[] {
  const perWindow = windows.map(() => [] as number[]);
  const all: number[] = [];
  for (const log of logs) {
    for (const event of log.events) {
      if (event.type !== "receive") continue;
      const sentAt = firstSendAt.get(event.conversationId, event.senderId, event.clientMsgId);
      if (sentAt === undefined) continue;
      const latencyMs = event.t - sentAt;
      all.push(latencyMs);
      for (let index = 0; index < windows.length; index++) {
        const window = windows[index]!;
        if (sentAt >= window.from && sentAt < window.to) perWindow[index]!.push(latencyMs);
      }
    }
  }
  return [...windows.map((window, index) => latencyRow(window.name, perWindow[index]!)), latencyRow(ALL_WINDOW, all)];
}

function latencyRow(window: string, samples: number[]): LatencyRow {
  const sorted = Float64Array.from(samples).sort();
  return { window, deliveries: sorted.length, p50Ms: nearestRank(sorted, 50), p99Ms: nearestRank(sorted, 99), maxMs: sorted.length ? sorted[sorted.length - 1]! : 0 };
}

/** The nearest-rank percentile of ascending samples: the value at rank ceil(p/100 * n); 0 when empty. */
export function nearestRank(sorted: ArrayLike<number>, percentile: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

function describe(message: StoredMessage): string {
  return `${message.senderId}/${message.clientMsgId}`;
}

function range(from: number, to: number): string {
  return from === to ? `seq ${from}` : `seqs ${from}..${to}`;
}

/** How many findings of each category formatReport prints as examples. */
const EXAMPLES_PER_CATEGORY = 5;

const FINDING_CATEGORIES = [
  ["lost", "lost"],
  ["duplicated", "duplicated"],
  ["unexpected", "unexpected"],
  ["orderViolations", "order violations"],
  ["gaps", "gaps"],
  ["notCaughtUp", "not caught up"],
] as const;

/** A plain-text table (and a one-line verdict) for the terminal and for docs. */
export function formatReport(title: string, report: CheckReport): string {
  const lines = [title, ""];
  const counts: [string, number][] = [
    ["invoked", report.invoked],
    ["acked", report.acked],
    ["stored", report.stored],
    ["delivered", report.delivered],
    ["unknown outcomes", report.unknownOutcomes],
    ...FINDING_CATEGORIES.map(([field, label]): [string, number] => [label, report[field].length]),
  ];
  lines.push(
    ...table(
      ["count", "value"],
      counts.map(([label, value]) => [label, String(value)]),
    ),
    "",
  );
  lines.push(
    ...table(
      ["window", "deliveries", "p50 ms", "p99 ms", "max ms"],
      report.latency.map((row) => [row.window, String(row.deliveries), String(row.p50Ms), String(row.p99Ms), String(row.maxMs)]),
    ),
  );
  for (const [field, label] of FINDING_CATEGORIES) {
    const findings = report[field];
    if (findings.length === 0) continue;
    lines.push("", `${label} (${findings.length}):`);
    for (const finding of findings.slice(0, EXAMPLES_PER_CATEGORY)) {
      lines.push(`  ${finding.kind} ${finding.conversationId}${finding.clientId === undefined ? "" : ` [${finding.clientId}]`}: ${finding.detail}`);
    }
    if (findings.length > EXAMPLES_PER_CATEGORY) lines.push(`  ... and ${findings.length - EXAMPLES_PER_CATEGORY} more`);
  }
  lines.push("", verdict(report));
  return lines.join("\n");
}

function verdict(report: CheckReport): string {
  const unknown = report.unknownOutcomes ? `; ${report.unknownOutcomes} send(s) with unknown outcome` : "";
  if (report.ok) return `PASS: ${report.acked} acked, ${report.stored} stored, ${report.delivered} delivered; nothing lost, duplicated, unexpected, reordered or missed${unknown}`;
  const broken = FINDING_CATEGORIES.filter(([field]) => report[field].length > 0).map(([field, label]) => `${report[field].length} ${label}`);
  return `FAIL: ${broken.join(", ")}${unknown}`;
}

/** Left-aligned first column, right-aligned others, two spaces between. */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  const render = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [render(header), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(render)];
}
