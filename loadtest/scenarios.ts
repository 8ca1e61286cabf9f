/**
 * The operations `npm run loadtest` mixes beside plain sends, what a seated client must do for each,
 * and the open-loop schedule that hands them out. Members report outcomes to the tally themselves,
 * because only they know when a reply, a refusal or a timeout ends an operation.
 */
import { timedText } from "./workload.ts";

/** Operations a load client performs; `unread` goes to the inbox room, the rest to `chat`. */
export const OPERATIONS = ["send", "history", "sync", "typing", "unread"] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * What the tally counts by: each operation, plus `catch-up` (the kit's own `history`/`sync` on every
 * join and rejoin) and `other` (a request the load generator did not expect to see).
 */
export type RequestKind = Operation | "catch-up" | "other";
export const REQUEST_KINDS: readonly RequestKind[] = [...OPERATIONS, "catch-up", "other"];

/** Relative weights of the operations; `send=100` alone is a plain send load. */
export type Mix = Readonly<Record<Operation, number>>;

/** What each mixed operation asks: small pages, so a mix loads the room and not the wire. */
export const MIX_PAGES = { historyLimit: 20, syncLimit: 50, syncBehind: 20 } as const;

/** Parse `send=90,history=4,sync=4,typing=2,unread=1`; unnamed operations weigh 0. A string is the problem. */
export function parseMix(text: string): Mix | string {
  const mix: Record<Operation, number> = { send: 0, history: 0, sync: 0, typing: 0, unread: 0 };
  for (const part of text
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)) {
    const [name, weight, extra] = part.split("=").map((piece) => piece.trim());
    if (!(OPERATIONS as readonly string[]).includes(name ?? "")) return `unknown operation "${name}"; one of ${OPERATIONS.join(", ")}`;
    if (extra !== undefined || weight === undefined || !/^\d{1,6}$/.test(weight)) return `"${part}" must be <operation>=<whole number>`;
    mix[name as Operation] = Number(weight);
  }
  if (OPERATIONS.every((operation) => mix[operation] === 0)) return "at least one operation needs a weight above 0";
  return mix;
}

/** `send=90,history=4` back from a mix, operations of weight 0 left out. */
export function describeMix(mix: Mix): string {
  return OPERATIONS.filter((operation) => mix[operation] > 0)
    .map((operation) => `${operation}=${mix[operation]}`)
    .join(",");
}

/**
 * Smooth weighted round-robin (as nginx balances upstreams): over any window of sum(weights) picks,
 * each operation comes up exactly its weight's times, spread out rather than in runs.
 */
export function weightedCycle(mix: Mix): () => Operation {
  const active = OPERATIONS.filter((operation) => mix[operation] > 0);
  const total = active.reduce((sum, operation) => sum + mix[operation], 0);
  const current = new Map(active.map((operation) => [operation, 0]));
  return () => {
    let best = active[0]!;
    for (const operation of active) {
      current.set(operation, current.get(operation)! + mix[operation]);
      if (current.get(operation)! > current.get(best)!) best = operation;
    }
    current.set(best, current.get(best)! - total);
    return best;
  };
}

/** Where a member's outcomes go (the tally). Every method is cheap and never throws. */
export type Reports = {
  /** One request (or plain message) went on the wire; the kit may make several per operation. */
  attempt(kind: RequestKind): void;
  /** The server refused one attempt with a protocol code (RATE_LIMITED, ...). */
  refusal(kind: RequestKind, code: string): void;
  /** The operation succeeded after `latencyMs` (a send: acknowledged, so durable). */
  answered(kind: Operation, latencyMs: number, clientMsgId?: string): void;
  /** The operation ended without success: a final refusal code, or a local one (ACK_TIMEOUT, CLOSED, ...). */
  failed(kind: Operation, code: string, clientMsgId?: string): void;
  /** A chat message reached a member. */
  delivery(clientMsgId: string, text: string): void;
  /** One join attempt failed (the kit tries again); `code` is the protocol code or a local one. */
  joinAttemptFailed(code: string): void;
  /** Something happened to a connection after seating: `REJOIN`, `LEFT_<close code>`, `GAVE_UP_<code>`. */
  connection(event: string): void;
};

/** One seated load client. Operations never throw: outcomes go to the member's Reports. */
export type LoadMember = {
  readonly conversation: number;
  /** True when the member also holds its inbox room (and so can ask `unread`). */
  readonly hasInbox: boolean;
  send(clientMsgId: string, text: string): void;
  history(): void;
  sync(): void;
  typing(): void;
  unread(): void;
  close(): Promise<void>;
};

/** Members by conversation; every send is expected once by each member of its conversation. */
export type Seating = LoadMember[][];

/** What the schedule needs from the tally. */
export type Issuer = {
  issued(kind: Operation): void;
  /** A send is about to go out, to be delivered to `audience` members. */
  messageSent(clientMsgId: string, audience: number): void;
};

export type OpenLoopOptions = {
  ratePerSec: number;
  durationMs: number;
  textBytes: number;
  mix: Mix;
  /** Starts every clientMsgId of this run: `<runId>-<n>`. */
  runId: string;
  signal?: AbortSignal;
};

/**
 * Hand out `ratePerSec` operations a second for `durationMs`, open loop: the schedule never waits
 * for replies, it catches up on each timer tick. Chat operations go round-robin over every member,
 * `unread` round-robin over the members holding an inbox (skipped when none does).
 */
export async function runOpenLoop(seating: Seating, issuer: Issuer, options: OpenLoopOptions): Promise<void> {
  const members = seating.flat();
  const inboxes = members.filter((member) => member.hasInbox);
  if (members.length === 0) return;
  const pick = weightedCycle(options.mix);
  const started = performance.now();
  let scheduled = 0;
  let nextMember = 0;
  let nextInbox = 0;
  let sends = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    const due = Math.floor((Math.min(elapsed, options.durationMs) * options.ratePerSec) / 1000) - scheduled;
    for (let i = 0; i < due; i++) {
      const operation = pick();
      if (operation === "unread") {
        if (inboxes.length === 0) continue;
        issuer.issued("unread");
        inboxes[nextInbox++ % inboxes.length]!.unread();
        continue;
      }
      const member = members[nextMember++ % members.length]!;
      issuer.issued(operation);
      if (operation === "send") {
        const clientMsgId = `${options.runId}-${sends++}`;
        issuer.messageSent(clientMsgId, seating[member.conversation]!.length);
        member.send(clientMsgId, timedText(options.textBytes));
      } else member[operation]();
    }
    scheduled += Math.max(0, due);
    if (elapsed >= options.durationMs || options.signal?.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
