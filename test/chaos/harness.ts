/**
 * The chaos harness: a real 3-node cluster (deploy/cluster.ts) with its own Redis and the store
 * behind TCP proxies, simulated users on the client kit (client/) sending open-loop, one fault,
 * then a final read and the checker (checker.ts). Every client writes a JSONL log.
 *
 * Clients reach each node through a stable "slot" proxy (as a Service or load balancer would give
 * them), which also lets a deploy replace the node behind a slot and lets scenario f cut every
 * client connection mid-stream.
 */
import { Redis } from "ioredis";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { startCluster, type Cluster, type ClusterNode } from "../../deploy/cluster.ts";
import { ParleyClient, type Conversation } from "../../client/index.ts";
import type { TraceEvent } from "../../client/trace.ts";
import { joinEventually, leave, metricOf, storedMessages } from "../support/cluster-helpers.ts";
import { startMongoWire, startRedis, withDatabase } from "../../deploy/services.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../../deploy/wait-for.ts";
import { readCounters, type RedisCounters } from "../../loadtest/cluster-redis-window.ts";
import { check, nearestRank, type CheckReport, type ClientLog, type LogEvent, type StoredMessage, type Window } from "./checker.ts";

export const SCENARIOS = {
  a: "rolling restart: SIGTERM each node in turn, a new one takes its place",
  b: "SIGKILL one node",
  c: "SIGSTOP one node for 5 s",
  d: "Redis stopped for 5 s, restarted empty",
  e: "store unreachable for 10 s",
  f: "every client connection cut mid-stream, 10 times a minute",
  g: "Redis emptied under load (FLUSHALL): routes, listings, leases and presence lost at once",
} as const;
export type ScenarioName = keyof typeof SCENARIOS;

export type ChaosOptions = {
  clients: number;
  conversations: number;
  /** Messages per second over all clients, open loop. */
  rate: number;
  /** Load before the fault, and after it heals, in ms. */
  beforeMs: number;
  afterMs: number;
  /** How long scenario f keeps cutting connections. */
  cutWindowMs: number;
  /** The node lease (ROOM_LEASE_MS); a frozen node's conversations move after about this long. */
  leaseMs: number;
  /** Print progress lines. */
  say?: (line: string) => void;
};

/** The full scale runs the server's own lease (1.5 s): per node since #15, short leases cost nothing per room. */
export const FULL: ChaosOptions = { clients: 300, conversations: 60, rate: 300, beforeMs: 15_000, afterMs: 15_000, cutWindowMs: 60_000, leaseMs: 1500 };
export const SHORT: ChaosOptions = { clients: 60, conversations: 12, rate: 60, beforeMs: 4000, afterMs: 4000, cutWindowMs: 18_000, leaseMs: 2000 };

/**
 * Recovery after a fault (scenarios b, c, g): how long after it each conversation took a fresh
 * client's join again, and, 30 s after it, how many chat rooms the live nodes host against the
 * conversations (more rooms than conversations is a duplicate room).
 */
export type Recovery = { joinableMs: number[]; chatRoomsAfter30s: number; conversations: number };

export type ChaosResult = {
  scenario: ScenarioName;
  report: CheckReport;
  windows: Window[];
  logDir: string;
  clientsBack: number;
  clients: number;
  /** Redis's commands per second (its own INFO count) before, during and after the fault; NaN for d. */
  redisCommandsPerSec: { before: number; fault: number; after: number };
  /** The commands that made the fault window's count, per second, the most frequent first. */
  redisTopCommandsPerSec: Record<string, number>;
  /** Requests the nodes sent the store (MongoDB wire messages through its proxy) per second. */
  storeRequestsPerSec: { before: number; fault: number; after: number };
  /**
   * The harness's own load before and during the fault: its event-loop delay (p99 and max, ms) and
   * CPU (share of one core). The clients, their proxies and the checker's clock live in this
   * process, so a delay here inflates every latency it measures.
   */
  harness: { before: HarnessLoad; fault: HarnessLoad };
  recovery?: Recovery;
};

export type HarnessLoad = { loopDelayP99Ms: number; loopDelayMaxMs: number; cpuShare: number };

/** The harness process's event-loop delay and CPU since the last `take()`. */
function harnessMeter(): { take(): HarnessLoad; stop(): void } {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let cpu = process.cpuUsage();
  let at = performance.now();
  return {
    take() {
      const used = process.cpuUsage(cpu);
      const now = performance.now();
      const load = {
        loopDelayP99Ms: Math.round(delay.percentile(99) / 1e6),
        loopDelayMaxMs: Math.round(delay.max / 1e6),
        cpuShare: Number(((used.user + used.system) / 1000 / (now - at)).toFixed(2)),
      };
      delay.reset();
      cpu = process.cpuUsage();
      at = now;
      return load;
    },
    stop: () => delay.disable(),
  };
}

type Simulated = { id: string; userId: string; conversationId: string; client: ParleyClient; conversation?: Conversation; events: LogEvent[] };

const NODES = 3;

/** Run one scenario end to end and check it. */
export async function runScenario(scenario: ScenarioName, options: ChaosOptions): Promise<ChaosResult> {
  const say = options.say ?? (() => {});
  const runId = `${scenario}${Date.now().toString(36)}`;
  const logDir = join(tmpdir(), `parley-chaos-${runId}`);
  mkdirSync(logDir, { recursive: true });
  const teardown: Array<() => Promise<void>> = [];

  try {
    // Services: Redis of our own (scenario d restarts it); the store behind a proxy (scenario e cuts it).
    let redis = await startRedis();
    teardown.push(() => redis.stop());
    const store = process.env.MONGO_URL ? undefined : await startMongoWire(say);
    if (store) teardown.push(() => store.stop());
    const storeUrl = new URL(process.env.MONGO_URL ?? store!.url);
    const storeProxy = await startTcpProxy(Number(storeUrl.port || 27017), { countMessages: true });
    teardown.push(() => storeProxy.close());
    const mongoUrl = withDatabase(storeProxy.url(storeUrl.toString()), `chaos_${runId}`);

    // Two kinds of proxies, as in a deployment: each node announces an address of its own (a pod's:
    // rooms' WebSockets go there), and clients join through stable slot endpoints (a load balancer's)
    // that a rolling restart points at the replacement once it is up. Scenario f cuts both.
    const slots: TcpProxy[] = [];
    const nodeProxies = new Map<number, TcpProxy>();
    teardown.push(async () => void (await Promise.all([...slots, ...nodeProxies.values()].map((proxy) => proxy.close()))));
    let replacing: number | undefined;
    const cluster: Cluster = await startCluster({
      nodes: NODES,
      redisUrl: redis.url,
      mongoUrl,
      env: {
        LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "warn",
        ROOM_LEASE_MS: String(options.leaseMs),
        DRAIN_TIMEOUT_MS: "10000",
        SEND_RATE_PER_SEC: "1000",
        SEND_BURST: "1000",
        REQUEST_RATE_PER_SEC: "1000",
        // CHAOS_NODE_<NAME>=value sets a node setting for one run (compare settings under the same fault).
        ...Object.fromEntries(Object.entries(process.env).flatMap(([name, value]) => (name.startsWith("CHAOS_NODE_") ? [[name.slice("CHAOS_NODE_".length), value]] : []))),
      },
      publicAddressFor: async (port, index) => {
        const slot = replacing ?? index;
        slots[slot] ??= await startTcpProxy(port);
        const own = await startTcpProxy(port);
        nodeProxies.set(port, own);
        return `127.0.0.1:${own.port}`;
      },
    });
    teardown.push(async () => {
      await cluster.stop();
      for (const node of cluster.nodes) writeFileSync(join(logDir, `node-${node.name}.log`), node.output());
    });
    // Slot i proxies to the node started for it. Nodes start in parallel and are listed in the order
    // they came up, which need not be their slot's: match them by port, or a rolling restart
    // replaces one node's slot while draining another's.
    const bySlot: ClusterNode[] = slots.map((slot) => {
      const node = cluster.nodes.find((candidate) => candidate.port === slot.target);
      if (!node) throw new Error(`no node behind slot 127.0.0.1:${slot.port}`);
      return node;
    });
    const endpoints = slots.map((slot) => `http://127.0.0.1:${slot.port}`);
    say(`cluster up: ${bySlot.map((node, slot) => `${node.name} ${node.httpUrl} (announces ${node.publicAddress}) behind slot ${endpoints[slot]}`).join(", ")}`);

    // Clients: `clients` users spread over `conversations` channels.
    const simulated: Simulated[] = Array.from({ length: options.clients }, (_, index) => {
      const userId = `u${index}`;
      const events: LogEvent[] = [];
      const client = new ParleyClient({
        endpoints,
        identity: { userId },
        onTrace: (event: TraceEvent) => events.push(event),
        heartbeatIntervalMs: 2000,
        heartbeatTimeoutMs: 2000,
        requestTimeoutMs: 5000,
        joinTimeoutMs: 5000,
        backoff: { initialMs: 100, maxMs: 2000 },
      });
      return { id: `client-${index}`, userId, conversationId: `channel:chaos-${runId}-${index % options.conversations}`, client, events };
    });
    teardown.push(async () => simulated.forEach((one) => one.client.close()));
    for (let start = 0; start < simulated.length; start += 20) {
      await Promise.all(
        simulated.slice(start, start + 20).map(async (one) => {
          one.conversation = await one.client.join(one.conversationId);
          one.events.push({ type: "joined", conversationId: one.conversationId, lastSeq: one.conversation.lastSeq, t: Date.now() });
        }),
      );
    }
    say(`${simulated.length} clients joined ${options.conversations} conversations`);

    // Open-loop load: `rate` sends per second, round-robin over clients, whatever the acks do.
    let sending = true;
    let next = 0;
    let sent = 0;
    const loadStarted = Date.now();
    const load = (async () => {
      while (sending) {
        const due = Math.floor(((Date.now() - loadStarted) / 1000) * options.rate);
        for (; sent < due; sent++) {
          const one = simulated[next++ % simulated.length]!;
          one.conversation!.send(`m${sent} from ${one.userId}`).catch(() => undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    // Redis's own command count (INFO), so a fault's cost to Redis can be set against steady state.
    // Scenario d restarts Redis, which resets it: not counted there.
    const counter = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    teardown.push(async () => void counter.disconnect());
    const empty: RedisCounters = { at: 0, commands: Number.NaN, inputBytes: 0, outputBytes: 0, perCommand: {} };
    const redisCommands = async () => (scenario === "d" ? empty : await readCounters(counter).catch(() => empty));
    const storeCounts: number[] = [];
    const countBoth = async () => {
      storeCounts.push(storeProxy.messages);
      return await redisCommands();
    };
    const counts = [await countBoth()];
    const started = Date.now();
    const meter = harnessMeter();
    await pause(options.beforeMs);
    counts.push(await countBoth());
    const harnessBefore = meter.take();
    const faultFrom = Date.now();
    say(`fault ${scenario}: ${SCENARIOS[scenario]}`);
    let recovering: Promise<Recovery> | undefined;
    await inject(scenario, {
      cluster,
      endpoints,
      conversationIds: [...new Set(simulated.map((one) => one.conversationId))],
      recovered: (measuring) => void (recovering = measuring),
      bySlot,
      slots,
      proxies: () => [...slots, ...nodeProxies.values()],
      options,
      say,
      flushRedis: async () => {
        const client = new Redis(redis.url);
        try {
          await client.flushall();
        } finally {
          client.disconnect();
        }
      },
      restartRedis: async () => {
        const port = redis.port;
        await redis.stop();
        await pause(5000);
        redis = await startRedis(port);
      },
      storeProxy,
      replaceSlot: async (slot) => {
        replacing = slot;
        try {
          const node = await cluster.addNode();
          slots[slot]!.retarget(node.port);
          bySlot[slot] = node;
          return node;
        } finally {
          replacing = undefined;
        }
      },
    });
    counts.push(await countBoth());
    const faultTo = Date.now();
    const harness = { before: harnessBefore, fault: meter.take() };
    meter.stop();
    say(`fault healed after ${faultTo - faultFrom} ms`);
    say(
      `the harness itself (clients, proxies, clock): event-loop delay p99/max ${harness.before.loopDelayP99Ms}/${harness.before.loopDelayMaxMs} ms before, ${harness.fault.loopDelayP99Ms}/${harness.fault.loopDelayMaxMs} ms in the fault; CPU ${harness.before.cpuShare} then ${harness.fault.cpuShare} of a core`,
    );
    await pause(options.afterMs);
    // Scenarios b, c and g look at the rooms 30 s after the fault, under load.
    const recovery = await recovering;
    counts.push(await countBoth());
    const loadEnd = Date.now();
    sending = false;
    await load;
    const ended = Date.now();
    const rate = (from: number, to: number, a: number, b: number) => ((b - a) / Math.max(1, to - from)) * 1000;
    const perSec = (at: number[]) => ({
      before: rate(started, faultFrom, at[0]!, at[1]!),
      fault: rate(faultFrom, faultTo, at[1]!, at[2]!),
      after: rate(faultTo, loadEnd, at[2]!, at[3]!),
    });
    const redisCommandsPerSec = perSec(counts.map((one) => one.commands));
    const storeRequestsPerSec = perSec(storeCounts);
    const redisTopCommandsPerSec = Object.fromEntries(
      Object.entries(counts[2]!.perCommand)
        .map(([name, calls]) => [name, rate(faultFrom, faultTo, counts[1]!.perCommand[name] ?? 0, calls)] as const)
        .filter(([name, perSecond]) => name !== "info" && perSecond >= 0.5)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([name, perSecond]) => [name, Math.round(perSecond)]),
    );
    if (Number.isFinite(redisCommandsPerSec.fault))
      say(
        `Redis commands/s: before ${redisCommandsPerSec.before.toFixed(0)}, fault ${redisCommandsPerSec.fault.toFixed(0)} (${(redisCommandsPerSec.fault / redisCommandsPerSec.before).toFixed(2)}x), after ${redisCommandsPerSec.after.toFixed(0)}; the fault's ${(((redisCommandsPerSec.fault - redisCommandsPerSec.before) * (faultTo - faultFrom)) / 1000).toFixed(0)} commands above the steady rate, top commands/s ${JSON.stringify(redisTopCommandsPerSec)}`,
      );
    say(
      `store requests/s: before ${storeRequestsPerSec.before.toFixed(0)}, fault ${storeRequestsPerSec.fault.toFixed(0)} (${(storeRequestsPerSec.fault / storeRequestsPerSec.before).toFixed(2)}x), after ${storeRequestsPerSec.after.toFixed(0)}`,
    );
    say(`load stopped: ${sent} sends invoked`);

    // Heal: every outbox empties and every client catches up with the store.
    const live = () => bySlot.find((node) => node.child.exitCode === null && node.child.signalCode === null)!;
    const stored = new Map<string, StoredMessage[]>();
    await waitFor(() => simulated.every((one) => one.conversation!.pendingSends === 0), { timeoutMs: 90_000, intervalMs: 200, what: "every outbox to empty" }).catch((error) =>
      say(`not every outbox emptied: ${(error as Error).message}`),
    );
    const conversationIds = [...new Set(simulated.map((one) => one.conversationId))];
    for (const conversationId of conversationIds) stored.set(conversationId, await storedMessages(live(), conversationId, "auditor"));
    let clientsBack = 0;
    await waitFor(
      () => {
        clientsBack = simulated.filter((one) => one.conversation!.lastSeq >= (stored.get(one.conversationId)!.at(-1)?.seq ?? 0)).length;
        return clientsBack === simulated.length;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: "every client to catch up" },
    ).catch(() => say(`${simulated.length - clientsBack} clients did not catch up`));
    for (const one of simulated) one.events.push({ type: "left", conversationId: one.conversationId, lastSeq: one.conversation!.lastSeq, t: Date.now() });

    const logs: ClientLog[] = simulated.map((one) => ({ clientId: one.id, userId: one.userId, events: one.events }));
    for (const log of logs) writeFileSync(join(logDir, `${log.clientId}.jsonl`), log.events.map((event) => JSON.stringify(event)).join("\n") + "\n");
    writeFileSync(join(logDir, "stored.json"), JSON.stringify(Object.fromEntries(stored)));
    const windows: Window[] = [
      { name: "before", from: started, to: faultFrom },
      { name: "fault", from: faultFrom, to: faultTo },
      { name: "after", from: faultTo, to: ended + 1 },
    ];
    if (recovery) {
      const sorted = [...recovery.joinableMs].sort((a, b) => a - b);
      say(
        `after the fault: every conversation joinable within ${sorted.at(-1)} ms (p50 ${nearestRank(sorted, 50)}, p99 ${nearestRank(sorted, 99)} ms); ${recovery.chatRoomsAfter30s} chat rooms for ${recovery.conversations} conversations 30 s later`,
      );
    }
    return {
      scenario,
      report: check({ logs, stored, windows }),
      windows,
      logDir,
      clientsBack,
      clients: simulated.length,
      redisCommandsPerSec,
      redisTopCommandsPerSec,
      storeRequestsPerSec,
      harness,
      ...(recovery && { recovery }),
    };
  } finally {
    for (const step of teardown.reverse()) await step().catch(() => undefined);
  }
}

type FaultContext = {
  cluster: Cluster;
  /** The slots' URLs, as clients reach the nodes. */
  endpoints: string[];
  conversationIds: string[];
  /** Scenarios b, c and g hand over the measurement of their recovery, which completes 30 s after the fault. */
  recovered(measuring: Promise<Recovery>): void;
  bySlot: ClusterNode[];
  slots: TcpProxy[];
  /** Every proxy a client connection can go through: the slots and the nodes' own addresses. */
  proxies(): TcpProxy[];
  options: ChaosOptions;
  say: (line: string) => void;
  restartRedis(): Promise<void>;
  /** Empty Redis at once (FLUSHALL), leaving it running. */
  flushRedis(): Promise<void>;
  storeProxy: TcpProxy;
  replaceSlot(slot: number): Promise<ClusterNode>;
};

/**
 * Every conversation joinable again after a fault at `faultAt`: a fresh user's join through a slot
 * other than `avoidSlots` (the faulty node's), retried until answered; resolves once all are. A
 * join seats the user in the room that holds the conversation under a live node lease, which is
 * what a send needs. 30 s on (the load still running) the live nodes' chat rooms are counted: one
 * per conversation, so a room that lost its route, or a frozen node's room, has gone.
 */
function measureRecovery(context: FaultContext, faultAt: number, avoidSlots: number[] = []): Promise<number[]> {
  const usable = context.endpoints.filter((_, slot) => !avoidSlots.includes(slot));
  const joinable = Promise.all(
    context.conversationIds.map(async (conversationId, index) => {
      const probe = await joinEventually({ httpUrl: usable[index % usable.length]! }, conversationId, `probe${index}`, 60_000);
      const elapsed = Date.now() - faultAt;
      await leave(probe);
      return elapsed;
    }),
  );
  context.recovered(
    (async () => {
      const joinableMs = await joinable;
      await pause(Math.max(0, faultAt + 30_000 - Date.now()));
      const live = context.bySlot.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
      const chatRooms = (await Promise.all(live.map((node) => metricOf(node, "parley_node_rooms", 'room="chat"')))).reduce((sum, count) => sum + count, 0);
      return { joinableMs, chatRoomsAfter30s: chatRooms, conversations: context.conversationIds.length };
    })(),
  );
  return joinable;
}

async function inject(scenario: ScenarioName, context: FaultContext): Promise<void> {
  const { bySlot, say } = context;
  switch (scenario) {
    case "a":
      // A deploy with surge: start the new version, point the slot at it, then SIGTERM the old one.
      for (let slot = 0; slot < bySlot.length; slot++) {
        const old = bySlot[slot]!;
        const fresh = await context.replaceSlot(slot);
        old.signal("SIGTERM");
        const code = await old.exited;
        say(`slot ${slot}: ${old.name} drained (exit ${code}), ${fresh.name} serves`);
      }
      return;
    case "b": {
      const killedAt = Date.now();
      bySlot[0]!.signal("SIGKILL");
      await bySlot[0]!.exited;
      // The fault window covers the takeover: the lease and a rejoin.
      await measureRecovery(context, killedAt, [0]);
      await pause(Math.max(0, killedAt + context.options.leaseMs * 2 - Date.now()));
      return;
    }
    case "c": {
      const stoppedAt = Date.now();
      bySlot[0]!.signal("SIGSTOP");
      await measureRecovery(context, stoppedAt, [0]);
      await pause(Math.max(0, stoppedAt + 5000 - Date.now()));
      bySlot[0]!.signal("SIGCONT");
      return;
    }
    case "d":
      await context.restartRedis();
      return;
    case "e":
      context.storeProxy.cut();
      await pause(10_000);
      context.storeProxy.restore();
      return;
    case "g": {
      const flushedAt = Date.now();
      await context.flushRedis();
      // The fault window covers the recovery: leases renewed or taken again, listings written back.
      await measureRecovery(context, flushedAt);
      await pause(Math.max(0, flushedAt + context.options.leaseMs * 2 - Date.now()));
      return;
    }
    case "f": {
      const cuts = Math.max(1, Math.round(context.options.cutWindowMs / 6000));
      for (let cut = 0; cut < cuts; cut++) {
        await pause(6000);
        for (const proxy of context.proxies()) proxy.drop();
      }
      say(`cut every client connection ${cuts} times`);
      return;
    }
  }
}

/** A fault's duration, or the load's phases: timeline, not synchronisation. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
