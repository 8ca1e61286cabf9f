/**
 * The soak: hours of ordinary churn on a real 3-node cluster (its own Redis and MongoDB-wire store
 * unless REDIS_URL / MONGO_URL are set), looking for what only time shows: memory that grows, room
 * listings or routes left behind in Redis, a message lost once in a million.
 *
 * Churn: `sessions` client-kit users are connected at any moment; each joins a conversation of the
 * current generation, sends about one message a second, and leaves after a random lifetime; a new
 * user takes its place at once (connection churn). Every `generationMs` a new generation of
 * conversations starts and the old ones go idle and are disposed (conversation churn).
 *
 * At the end every session has left, every room has gone idle and been disposed, and then: every
 * acknowledged message is stored once, every session received its conversation's messages in
 * order with no gap while it was there (the chaos checker), and Redis holds no room listing and no
 * route. Each node's RSS is sampled throughout; the slope over the second half is reported.
 */
import { Redis } from "ioredis";
import { readFileSync } from "node:fs";
import { startCluster, type ClusterNode } from "../../deploy/cluster.ts";
import { startMongoWire, startRedis, withDatabase, type Service } from "../../deploy/services.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { ParleyClient } from "../../client/index.ts";
import type { TraceEvent } from "../../client/trace.ts";
import { check, type CheckReport, type ClientLog, type LogEvent, type StoredMessage } from "../chaos/checker.ts";
import { metricOf, storedMessages } from "../support/cluster-helpers.ts";

export type SoakOptions = {
  durationMs: number;
  /** Users connected at any moment. */
  sessions: number;
  /** Conversations per generation. */
  conversations: number;
  /** How long a generation of conversations takes new sessions. */
  generationMs: number;
  /** A session stays between these many ms. */
  lifetimeMs: [number, number];
  /** RSS sampling period. */
  sampleMs: number;
  /** How long a room nobody is in stays (ROOM_IDLE_MS): shorter means more room churn. */
  roomIdleMs: number;
  /** The store (else MONGO_URL, else one of its own); the run uses a database of its own on it. */
  mongoUrl?: string;
  say?: (line: string) => void;
};

export const SOAK_DEFAULTS: Omit<SoakOptions, "durationMs"> = { sessions: 40, conversations: 10, generationMs: 60_000, lifetimeMs: [5_000, 20_000], sampleMs: 5_000, roomIdleMs: 3_000 };

export type RssSeries = { node: string; samples: Array<{ t: number; mb: number }>; firstMb: number; lastMb: number; secondHalfSlopeMbPerHour: number };

export type SoakResult = {
  report: CheckReport;
  sessionsRun: number;
  conversationsUsed: number;
  rss: RssSeries[];
  /** Redis after every room was disposed: listings of chat or inbox rooms, route keys. */
  staleListings: number;
  staleRoutes: number;
  /** Sessions whose join failed (each retried by the next session). */
  joinFailures: number;
};

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const say = options.say ?? (() => {});
  const runId = `soak${Date.now().toString(36)}`;
  const services: Service[] = [];
  const teardown: Array<() => Promise<void>> = [];
  try {
    const redisUrl = process.env.REDIS_URL ? withDatabase(process.env.REDIS_URL, "15") : services[services.push(await startRedis()) - 1]!.url;
    const mongoUrl = withDatabase(options.mongoUrl ?? process.env.MONGO_URL ?? services[services.push(await startMongoWire(say)) - 1]!.url, runId);
    const redis = new Redis(redisUrl);
    teardown.push(async () => void redis.disconnect());
    await redis.flushdb();
    const cluster = await startCluster({
      nodes: 3,
      redisUrl,
      mongoUrl,
      env: { LOG_LEVEL: "warn", ROOM_IDLE_MS: String(options.roomIdleMs), SEND_RATE_PER_SEC: "1000", SEND_BURST: "1000", REQUEST_RATE_PER_SEC: "1000" },
    });
    teardown.push(() => cluster.stop());
    const endpoints = cluster.nodes.map((node) => node.httpUrl);
    say(`cluster up: ${endpoints.join(", ")}; ${options.sessions} sessions for ${Math.round(options.durationMs / 1000)} s`);

    // Memory: every node's RSS, from /proc, every sampleMs.
    const rss = new Map<string, Array<{ t: number; mb: number }>>(cluster.nodes.map((node) => [node.name, []]));
    const started = Date.now();
    const sample = () => {
      for (const node of cluster.nodes) {
        const mb = rssMb(node);
        if (mb !== undefined) rss.get(node.name)!.push({ t: Date.now() - started, mb });
      }
    };
    sample();
    const sampler = setInterval(sample, options.sampleMs);
    teardown.push(async () => clearInterval(sampler));

    const logs: ClientLog[] = [];
    const conversationsUsed = new Set<string>();
    let sessionsRun = 0;
    let joinFailures = 0;
    let stopping = false;
    const live = new Set<Promise<void>>();

    const runSession = async (index: number): Promise<void> => {
      const generation = Math.floor((Date.now() - started) / options.generationMs);
      const conversationId = `channel:${runId}-g${generation}-c${index % options.conversations}`;
      const userId = `s${index}`;
      const events: LogEvent[] = [];
      const client = new ParleyClient({
        endpoints,
        identity: { userId },
        onTrace: (event: TraceEvent) => events.push(event),
        requestTimeoutMs: 5000,
        joinTimeoutMs: 5000,
        backoff: { initialMs: 100, maxMs: 2000 },
        // Bounded, so a run whose joins keep failing ends and says so instead of hanging.
        maxJoinAttempts: 20,
      });
      try {
        let conversation: Awaited<ReturnType<ParleyClient["join"]>>;
        try {
          conversation = await client.join(conversationId);
        } catch (error) {
          joinFailures++;
          say(`session ${index}: join failed: ${(error as Error).message}`);
          return;
        }
        conversationsUsed.add(conversationId);
        sessionsRun++;
        // Messages may arrive before join() resolves (the conversation is live): the session's
        // start is just before the first of them, else where the kit stands now.
        const early = events.find((event) => event.type === "receive");
        events.unshift({ type: "joined", conversationId, lastSeq: early?.type === "receive" ? early.seq - 1 : conversation.lastSeq, t: Date.now() });
        const lifetime = options.lifetimeMs[0] + Math.random() * (options.lifetimeMs[1] - options.lifetimeMs[0]);
        const leaveAt = Date.now() + lifetime;
        let n = 0;
        while (!stopping && Date.now() < leaveAt) {
          conversation.send(`m${n++} from ${userId}`).catch(() => undefined);
          await pause(700 + Math.random() * 600);
        }
        // Leave as a player does once their messages are out; what arrived until then is judged.
        await waitFor(() => conversation.pendingSends === 0, { timeoutMs: 15_000, intervalMs: 100, what: `session ${index}'s outbox to empty` }).catch((error: Error) => say(error.message));
        events.push({ type: "left", conversationId, lastSeq: conversation.lastSeq, t: Date.now() });
      } finally {
        client.close();
        logs.push({ clientId: `session-${index}`, userId, events });
      }
    };

    // Keep `sessions` users connected: one ends, the next starts.
    let nextIndex = 0;
    const startOne = () => {
      const done: Promise<void> = runSession(nextIndex++).finally(() => {
        live.delete(done);
        if (!stopping) startOne();
      });
      live.add(done);
    };
    for (let i = 0; i < options.sessions; i++) {
      startOne();
      await pause(50);
    }
    const progress = setInterval(
      () =>
        say(
          `${Math.round((Date.now() - started) / 1000)} s: ${sessionsRun} sessions, ${conversationsUsed.size} conversations, RSS ${cluster.nodes.map((node) => `${rss.get(node.name)!.at(-1)?.mb.toFixed(0)} MB`).join(" / ")}`,
        ),
      60_000,
    );
    teardown.push(async () => clearInterval(progress));
    await pause(options.durationMs);
    stopping = true;
    while (live.size > 0) await Promise.all([...live]);
    clearInterval(progress);
    say(`load stopped: ${sessionsRun} sessions in ${conversationsUsed.size} conversations`);

    // Every room idles out (ROOM_IDLE_MS), then nothing of them may remain in Redis.
    const roomsLeft = async () => (await Promise.all(cluster.nodes.map((node) => metricOf(node, "parley_node_rooms", 'room="chat"')))).reduce((sum, count) => sum + count, 0);
    await waitFor(async () => (await roomsLeft()) === 0, { timeoutMs: 60_000, intervalMs: 500, what: "every chat room to be disposed" }).catch((error: Error) => say(error.message));
    clearInterval(sampler);
    const listings = Object.values(await redis.hgetall("roomcaches")).filter((raw) => (JSON.parse(raw) as { name?: string }).name === "chat");
    const routes = (await scanKeys(redis, "parley:route:chat:*")).filter((key) => !key.endsWith(":handover"));

    const stored = new Map<string, StoredMessage[]>();
    for (const conversationId of conversationsUsed) stored.set(conversationId, await storedMessages(cluster.nodes[0]!, conversationId, "auditor"));
    const report = check({ logs, stored, windows: [{ name: "soak", from: started, to: Date.now() }] });
    return {
      // A session that left is not expected to catch up with what was sent after it left.
      report: { ...report, notCaughtUp: [], ok: report.lost.length + report.duplicated.length + report.unexpected.length + report.orderViolations.length + report.gaps.length === 0 },
      sessionsRun,
      conversationsUsed: conversationsUsed.size,
      rss: [...rss].map(([node, samples]) => ({
        node,
        samples,
        firstMb: samples[0]?.mb ?? 0,
        lastMb: samples.at(-1)?.mb ?? 0,
        secondHalfSlopeMbPerHour: slopePerHour(samples.slice(Math.floor(samples.length / 2))),
      })),
      staleListings: listings.length,
      staleRoutes: routes.length,
      joinFailures,
    };
  } finally {
    for (const step of teardown.reverse()) await step().catch(() => undefined);
    await Promise.all(services.map((service) => service.stop()));
  }
}

/** A node's resident set in MB, from /proc (undefined once it exited). */
function rssMb(node: ClusterNode): number | undefined {
  try {
    const line = readFileSync(`/proc/${node.child.pid}/status`, "utf8")
      .split("\n")
      .find((entry) => entry.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Least-squares slope of MB over time, in MB per hour. */
export function slopePerHour(samples: ReadonlyArray<{ t: number; mb: number }>): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanT = samples.reduce((sum, s) => sum + s.t, 0) / n;
  const meanMb = samples.reduce((sum, s) => sum + s.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - meanT) * (s.mb - meanMb);
    den += (s.t - meanT) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 3_600_000;
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

/** The load's pacing (a timeline, not synchronisation). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The soak's result as Markdown. */
export function formatSoak(options: SoakOptions, result: SoakResult): string {
  const r = result.report;
  return [
    `Soak: ${Math.round(options.durationMs / 60_000)} min, ${options.sessions} sessions at once (lifetime ${options.lifetimeMs[0] / 1000}-${options.lifetimeMs[1] / 1000} s), ${options.conversations} conversations per ${options.generationMs / 1000} s generation, rooms idle ${options.roomIdleMs / 1000} s, 3 nodes.`,
    `Sessions run: ${result.sessionsRun} (join failures ${result.joinFailures}); conversations: ${result.conversationsUsed}; sends ${r.invoked}, acknowledged ${r.acked}, stored ${r.stored}, delivered ${r.delivered}.`,
    `Lost ${r.lost.length}, duplicated ${r.duplicated.length}, unexpected ${r.unexpected.length}, out of order ${r.orderViolations.length}, gaps ${r.gaps.length}; unknown outcomes ${r.unknownOutcomes}.`,
    `Redis after every room was disposed: ${result.staleListings} stale chat listings, ${result.staleRoutes} stale routes.`,
    "",
    "| node | RSS first (MB) | RSS last (MB) | slope over the second half (MB/h) |",
    "|---|---|---|---|",
    ...result.rss.map((series) => `| ${series.node} | ${series.firstMb.toFixed(0)} | ${series.lastMb.toFixed(0)} | ${series.secondHalfSlopeMbPerHour.toFixed(1)} |`),
  ].join("\n");
}
