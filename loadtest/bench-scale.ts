/**
 * Benchmark (performance issue, scale-out): what a delivery costs one Parley node with Redis against
 * an N-node cluster (default 3) on the same machine, the same Redis and the same workload, side by
 * side in one run, and the per-operation costs a model of N nodes needs (Redis commands and CPU per
 * join, per inbox notify, per Redis command; the background each node adds). Prints the model with
 * the measured numbers plugged in.
 *
 *   npm run bench:scale --                              # 600 clients in 60 conversations of 10, 1,000 msg/s for 10 s, 3 runs
 *   npm run bench:scale -- --runs 1 --seconds 3         # a short trial
 *   npm run bench:scale -- --kind group                 # group conversations: each message also notifies 9 inboxes
 *
 * Each run measures both setups, alternating which goes first: Redis emptied, the nodes started
 * (deploy/cluster.ts, ROLE=all, rate limits raised out of the way), clients spread over the nodes'
 * endpoints the way a load balancer would, a fixed open-loop send rate. Then, on the same nodes:
 * sequential joins (new conversations, then existing ones) and an inbox-notify probe (the same
 * users and rate in channel and then group conversations, every member's inbox seated; the
 * difference is the notifies). Every window is net of a background window of the same setup with
 * nothing sent. Nodes, Redis and the store run on CPU 0, this load generator on CPU 1 (taskset).
 * Writes scale.json and scale.md to --out. Numbers are reported, never asserted.
 */
import "./clients/prefer-ws.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Client, type Room } from "@colyseus/sdk";
import { Redis } from "ioredis";
import { commandLine, type Command, type Option } from "../deploy/cli.ts";
import { startCluster, type Cluster, type ClusterNode } from "../deploy/cluster.ts";
import { sampleSum, scrape } from "../deploy/metrics-text.ts";
import { startMongoWire, startRedis, withDatabase } from "../deploy/services.ts";
import { colyseusConnector, parleyChatNamed, type ColyseusFlavour } from "./clients/colyseus.ts";
import { readCounters, type RedisCounters } from "./cluster-redis-window.ts";
import { machineLine } from "./report.ts";
import { hasTaskset, machineBusyMicros, pinProcess } from "./server-process.ts";
import { closeMembers, cpuOrZero, inBatches, seatMembers } from "./sweep.ts";
import { PARLEY_BENCH_ENV, pidListeningOn } from "./systems.ts";
import { createMeter, drain, percentilesMs, sendOpenLoop, type Meter } from "./workload.ts";

const HERE = import.meta.dirname;
const COMMAND = {
  usage: "npm run bench:scale --",
  summary:
    "Cost per delivery of one Parley node with Redis against an N-node cluster on the same machine (same Redis, same workload, alternating, medians), the per-operation Redis costs (joins, inbox notifies, per command, per node), and a model of N nodes with them plugged in. Nodes, Redis and the store on CPU 0, this load generator on CPU 1. Results go to --out (scale.json, scale.md).",
  options: {
    nodes: { kind: "integer", default: 3, min: 2, max: 8, help: "nodes of the cluster compared against one node" },
    runs: { kind: "integer", default: 3, min: 1, help: "runs; each measures both setups, alternating which goes first" },
    clients: { kind: "integer", default: 600, min: 2, help: "clients seated" },
    "room-size": { kind: "integer", default: 10, min: 2, max: 40, help: "members per conversation" },
    bytes: { kind: "integer", default: 100, min: 20, max: 2000, help: "bytes per message text" },
    rate: { kind: "integer", default: 1000, min: 1, help: "messages sent per second, open loop" },
    seconds: { kind: "number", default: 10, min: 1, help: "seconds of the measured window" },
    "warmup-seconds": { kind: "number", default: 3, min: 0, help: "seconds of sending before the measured window (not measured)" },
    "idle-seconds": { kind: "number", default: 3, min: 1, help: "seconds of each background window (seated, nothing sent), subtracted from the windows it precedes" },
    kind: {
      kind: "string",
      default: "channel",
      choices: ["channel", "group"],
      help: "conversations of the main workload: channel (no notifies) or group (every member also holds its inbox; each message notifies the other members). A dm has two members, not room-size: it is a group of 2",
    },
    store: {
      kind: "string",
      default: "memory",
      choices: ["memory", "mongo-wire"],
      help: "history: in memory on each node (no MONGO_URL), or one MongoDB-wire server (mongod, else FerretDB on SQLite) for all nodes",
    },
    "join-probes": { kind: "integer", default: 100, min: 1, help: "sequential joins of new conversations measured per setup, then as many into those conversations" },
    "notify-conversations": { kind: "integer", default: 10, min: 1, help: "conversations of room-size members in the notify probe" },
    "notify-rate": { kind: "integer", default: 500, min: 1, help: "messages per second in the notify probe" },
    "notify-seconds": { kind: "number", default: 3, min: 0.5, help: "seconds of each notify-probe window (channel, then group)" },
    "lease-ms": { kind: "integer", default: 1500, min: 300, help: "ROOM_LEASE_MS of the nodes (the server's default); each node renews its lease every quarter of it" },
    out: { kind: "string", default: join(HERE, "results"), help: "folder for scale.json and scale.md" },
  },
  examples: ["npm run bench:scale -- --runs 1 --seconds 3 --join-probes 20", "npm run bench:scale -- --kind group --rate 500", "npm run bench:scale -- --nodes 2 --store mongo-wire"],
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);

const clusterNodes = Number(values.nodes);
const runs = Number(values.runs);
const roomSize = Number(values["room-size"]);
const conversations = Math.ceil(Number(values.clients) / roomSize);
const textBytes = Number(values.bytes);
const ratePerSec = Number(values.rate);
const windowMs = Number(values.seconds) * 1000;
const warmupMs = Number(values["warmup-seconds"]) * 1000;
const idleMs = Number(values["idle-seconds"]) * 1000;
const kind = values.kind as "channel" | "group";
const joinProbes = Number(values["join-probes"]);
const notifyConversations = Number(values["notify-conversations"]);
const notifyRate = Number(values["notify-rate"]);
const notifyMs = Number(values["notify-seconds"]) * 1000;
const leaseMs = Number(values["lease-ms"]);
const DRAIN_MS = 3000;
/** Rooms go this long after their last client left, so one phase's rooms are gone before the next. */
const ROOM_IDLE_MS = 1000;
const SERVER_CPU = 0;
const LOADGEN_CPU = 1;

/** The nodes' settings: the benchmark's (limits out of the way), plus the lease and idle time. */
const NODE_ENV = {
  ...PARLEY_BENCH_ENV,
  ROOM_LEASE_MS: String(leaseMs),
  ROOM_IDLE_MS: String(ROOM_IDLE_MS),
};

const say = (line: string) => console.log(`[bench-scale ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

// Before anything starts, so Redis, the store and the nodes start on CPU 1 and are moved to CPU 0.
pinProcess(process.pid, LOADGEN_CPU);

// --- measuring -------------------------------------------------------------------------------------

/** What the processes used so far, µs. */
type CpuReading = { nodes: number[]; redis: number; store: number; loadgen: number; machine: number };

/** Everything read at one instant: Redis's counters and its own time per command, and CPU. */
type Snapshot = { at: number; counters: RedisCounters; usec: Record<string, number>; cpu: CpuReading };

/** Counts and CPU over a window. `usec` is Redis's own time inside each command (commandstats), not its I/O. */
type Cost = {
  ms: number;
  commands: number;
  inputBytes: number;
  outputBytes: number;
  perCommand: Record<string, number>;
  usec: Record<string, number>;
  nodeCpuUs: number;
  perNodeCpuUs: number[];
  redisCpuUs: number;
  storeCpuUs: number;
  loadgenCpuUs: number;
  machineCpuUs: number;
};

/** The processes of one setup whose CPU is measured. */
type Processes = { nodePids: number[]; storePid: number | undefined };

/** CPU of the nodes, the store, this process and the machine; Redis's is filled in by snapshot(). */
function readCpu(p: Processes): CpuReading {
  const own = process.cpuUsage();
  return { nodes: p.nodePids.map(cpuOrZero), redis: Number.NaN, store: cpuOrZero(p.storePid), loadgen: own.user + own.system, machine: machineBusyMicros() };
}

/**
 * Redis's counters, its own time per command, and every process's CPU. Redis's CPU comes from its
 * INFO (getrusage, µs), not /proc's 10 ms ticks: a join costs Redis well under a tick.
 */
async function snapshot(redis: Redis, p: Processes): Promise<Snapshot> {
  const counters = await readCounters(redis);
  const text = (await redis.call("INFO", "cpu", "commandstats")) as string;
  const usec: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=\d+,usec=(\d+)/gm)) usec[match[1]!] = Number(match[2]);
  const seconds = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? Number.NaN);
  const cpu = readCpu(p);
  cpu.redis = Math.round((seconds("used_cpu_sys") + seconds("used_cpu_user")) * 1e6);
  return { at: counters.at, counters, usec, cpu };
}

function deltas(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(after)) {
    const delta = value - (before[name] ?? 0);
    if (delta !== 0) out[name] = delta;
  }
  return out;
}

/** The window between two snapshots, without the INFO calls the snapshots made. */
function between(a: Snapshot, b: Snapshot): Cost {
  const perCommand = deltas(b.counters.perCommand, a.counters.perCommand);
  const usec = deltas(b.usec, a.usec);
  const info = perCommand.info ?? 0;
  delete perCommand.info;
  delete usec.info;
  const perNode = b.cpu.nodes.map((us, i) => us - (a.cpu.nodes[i] ?? 0));
  return {
    ms: b.at - a.at,
    commands: b.counters.commands - a.counters.commands - info,
    inputBytes: b.counters.inputBytes - a.counters.inputBytes,
    outputBytes: b.counters.outputBytes - a.counters.outputBytes,
    perCommand,
    usec,
    nodeCpuUs: perNode.reduce((sum, us) => sum + us, 0),
    perNodeCpuUs: perNode,
    redisCpuUs: b.cpu.redis - a.cpu.redis,
    storeCpuUs: b.cpu.store - a.cpu.store,
    loadgenCpuUs: b.cpu.loadgen - a.cpu.loadgen,
    machineCpuUs: b.cpu.machine - a.cpu.machine,
  };
}

/** `cost` less what the background (`idle`, a window with nothing sent) would have done in as long. */
function netOf(cost: Cost, idle: Cost): Cost {
  const k = cost.ms / idle.ms;
  const less = (a: Record<string, number>, b: Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) out[name] = (a[name] ?? 0) - k * (b[name] ?? 0);
    return out;
  };
  return {
    ...cost,
    commands: cost.commands - k * idle.commands,
    inputBytes: cost.inputBytes - k * idle.inputBytes,
    outputBytes: cost.outputBytes - k * idle.outputBytes,
    perCommand: less(cost.perCommand, idle.perCommand),
    usec: less(cost.usec, idle.usec),
    nodeCpuUs: cost.nodeCpuUs - k * idle.nodeCpuUs,
    perNodeCpuUs: cost.perNodeCpuUs.map((us, i) => us - k * (idle.perNodeCpuUs[i] ?? 0)),
    redisCpuUs: cost.redisCpuUs - k * idle.redisCpuUs,
    storeCpuUs: cost.storeCpuUs - k * idle.storeCpuUs,
  };
}

async function idleWindow(redis: Redis, p: Processes): Promise<Cost> {
  const before = await snapshot(redis, p);
  await sleep(idleMs);
  return between(before, await snapshot(redis, p));
}

/** The largest entries of `record` divided by `count`, rounded. */
function topPer(record: Record<string, number>, count: number, n = 6): Record<string, number> {
  return Object.fromEntries(
    Object.entries(record)
      .filter(([, value]) => Math.abs(value / count) >= 0.0005)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
      .slice(0, n)
      .map(([name, value]) => [name, Number((value / count).toFixed(3))]),
  );
}

const per = (value: number, count: number) => (count > 0 ? value / count : Number.NaN);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// --- seating ---------------------------------------------------------------------------------------

/** A group conversation flavour: `group:<conversationPrefix><n>`, users `<userPrefix><n>_<user>`. */
function groupFlavour(userPrefix: string, conversationPrefix: string): ColyseusFlavour {
  return {
    roomName: "chat",
    joinOptions: (conversation, user) => ({ conversationId: `group:${conversationPrefix}${conversation}`, userId: `${userPrefix}${conversation}_${user}`, name: `Load ${conversation}/${user}` }),
    acked: true,
  };
}

const userOf = (userPrefix: string, conversation: number, user: number) => `${userPrefix}${conversation}_${user}`;

/**
 * Make every member of the groups a member: through every node when history is in memory (each
 * node keeps its own memberships), through one with a shared store. Development identities: the
 * service role rides on the query. One group's members are added one at a time: concurrent adds to
 * one group lost members on FerretDB over SQLite (its updates are not atomic), groups in parallel.
 */
async function addGroupMembers(nodes: ClusterNode[], conversationPrefix: string, userPrefix: string, count: number): Promise<void> {
  const through = values.store === "memory" ? nodes : nodes.slice(0, 1);
  await inBatches(
    Array.from({ length: count }, (_, c) => async () => {
      for (const node of through) {
        for (let u = 0; u < roomSize; u++) {
          const url = `${node.httpUrl}/v1/groups/${conversationPrefix}${c}/members/${userOf(userPrefix, c, u)}?userId=scale-service&roles=service`;
          const response = await fetch(url, { method: "PUT" });
          if (!response.ok) throw new Error(`PUT ${url}: ${response.status} ${await response.text()}`);
        }
      }
    }),
    20,
  );
}

/** Inbox rooms of the workload's users, counting the notifies of messages sent since `windowStart`. */
type Inboxes = { rooms: Room[]; notifies: number; windowStart: number; reset(): void };

async function seatInboxes(clients: Client[], users: string[]): Promise<Inboxes> {
  const inboxes: Inboxes = {
    rooms: [],
    notifies: 0,
    windowStart: Number.POSITIVE_INFINITY,
    reset() {
      inboxes.notifies = 0;
      inboxes.windowStart = performance.now();
    },
  };
  const failures: string[] = [];
  await inBatches(
    users.map((userId, i) => async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const room = await clients[i % clients.length]!.joinOrCreate("inbox", { userId });
          room.onMessage("notify", (message: { text?: string }) => {
            if (Number.parseFloat(message.text ?? "") >= inboxes.windowStart) inboxes.notifies++;
          });
          room.onMessage("*", () => undefined);
          inboxes.rooms.push(room);
          return;
        } catch (error) {
          if (attempt >= 3) return void failures.push(errorText(error));
        }
      }
    }),
    50,
  );
  if (failures.length > 0) {
    await leaveAll(inboxes.rooms);
    throw new Error(`${failures.length} inbox joins failed, first: ${failures[0]}`);
  }
  return inboxes;
}

async function leaveAll(rooms: Room[]): Promise<void> {
  for (let i = 0; i < rooms.length; i += 100) await Promise.all(rooms.slice(i, i + 100).map((room) => room.leave().catch(() => undefined)));
}

/** Seat a workload: members (and, for groups, every member's inbox first) of `count` conversations. */
async function seatWorkload(nodes: ClusterNode[], shape: "channel" | "group", count: number, userPrefix: string, conversationPrefix: string, withInboxes: boolean) {
  const endpoints = nodes.map((node) => node.httpUrl);
  const meter = createMeter();
  if (shape === "group") await addGroupMembers(nodes, conversationPrefix, userPrefix, count);
  const users = Array.from({ length: count }, (_, c) => Array.from({ length: roomSize }, (_, u) => userOf(userPrefix, c, u))).flat();
  // Inboxes through the nodes in another order than the conversations, as a client's two joins would.
  const inboxes = withInboxes
    ? await seatInboxes(
        [...endpoints.slice(1), endpoints[0]!].map((endpoint) => new Client(endpoint)),
        users,
      )
    : undefined;
  const flavour = shape === "group" ? groupFlavour(userPrefix, conversationPrefix) : parleyChatNamed({ userPrefix, conversationPrefix });
  const started = performance.now();
  const seating = await seatMembers(colyseusConnector(endpoints, flavour), count, roomSize, meter.events);
  const seatMs = performance.now() - started;
  if (meter.errors.size > 0) {
    await closeMembers(seating.flat());
    if (inboxes) await leaveAll(inboxes.rooms);
    throw new Error(`joins failed: ${JSON.stringify(Object.fromEntries(meter.errors))}`);
  }
  const close = async () => {
    await closeMembers(seating.flat());
    if (inboxes) await leaveAll(inboxes.rooms);
  };
  return { meter, seating, inboxes, seatMs, close };
}

/** Wait until the meter (and the inboxes) got everything expected, or `graceMs` passed. */
async function drainAll(meter: Meter, inboxes: Inboxes | undefined, expectedNotifies: number, graceMs: number): Promise<void> {
  await drain(meter, graceMs);
  const deadline = performance.now() + graceMs;
  while (inboxes && inboxes.notifies < expectedNotifies && performance.now() < deadline) await sleep(5);
}

// --- one setup -------------------------------------------------------------------------------------

type MainResult = {
  seatMs: number;
  sent: number;
  expected: number;
  delivered: number;
  deliveredRatio: number;
  deliveriesPerSec: number;
  delivery: { p50: number; p95: number; p99: number; max: number };
  ackP99Ms: number | undefined;
  errors: Record<string, number>;
  notifies: number;
  expectedNotifies: number;
  pubsubChannels: number;
  /** Chat rooms and seated chat clients per node, once seated. */
  placement: Array<{ rooms: number; clients: number }>;
  /** CPU while sending, % of one core: all nodes, Redis, this process, everything else on the machine. */
  nodesCpuPct: number;
  redisCpuPct: number;
  loadgenCpuPct: number;
  otherCpuPct: number;
  /** The window from the first send until its deliveries drained: gross, background (idle window before it) and net. */
  gross: Cost;
  idle: Cost;
  net: Cost;
};

/** Chat rooms and seated chat clients per node, from each node's /metrics (gauges parley_node_rooms, parley_node_clients; absent: none). */
async function placementOf(nodes: ClusterNode[]): Promise<Array<{ rooms: number; clients: number }>> {
  return Promise.all(
    nodes.map(async (node) => {
      const samples = await scrape(node.httpUrl);
      return { rooms: sampleSum(samples, "parley_node_rooms", 'room="chat"'), clients: sampleSum(samples, "parley_node_clients", 'room="chat"') };
    }),
  );
}

/** The main workload: seat, warm up, a background window, then the measured window. */
async function mainWorkload(redis: Redis, p: Processes, nodes: ClusterNode[], tag: string): Promise<MainResult> {
  const seated = await seatWorkload(nodes, kind, conversations, `${tag}u`, `${tag}c`, kind === "group");
  const { meter, seating, inboxes } = seated;
  const notifiesPerMessage = kind === "group" ? roomSize - 1 : 0;
  try {
    const placement = await placementOf(nodes);
    meter.reset();
    await sendOpenLoop(seating, meter, { ratePerSec, durationMs: warmupMs, textBytes });
    await drainAll(meter, undefined, 0, DRAIN_MS);
    await sleep(1000);
    const idle = await idleWindow(redis, p);
    const pubsubChannels = Number(/^pubsub_channels:(\d+)/m.exec((await redis.call("INFO", "stats")) as string)?.[1] ?? Number.NaN);

    meter.reset();
    inboxes?.reset();
    const before = await snapshot(redis, p);
    const started = performance.now();
    await sendOpenLoop(seating, meter, { ratePerSec, durationMs: windowMs, textBytes });
    const sendSeconds = (performance.now() - started) / 1000;
    const sending = (await snapshot(redis, p)).cpu;
    await drainAll(meter, inboxes, meter.sent * notifiesPerMessage, DRAIN_MS);
    const after = await snapshot(redis, p);

    const gross = between(before, after);
    const pct = (us: number) => (us / (sendSeconds * 1e6)) * 100;
    const nodesSending = sending.nodes.reduce((sum, us, i) => sum + us - (before.cpu.nodes[i] ?? 0), 0);
    const redisSending = sending.redis - before.cpu.redis;
    const storeSending = sending.store - before.cpu.store;
    const loadgenSending = sending.loadgen - before.cpu.loadgen;
    const machineSending = sending.machine - before.cpu.machine;
    return {
      seatMs: seated.seatMs,
      sent: meter.sent,
      expected: meter.expected,
      delivered: meter.delivered,
      deliveredRatio: meter.expected === 0 ? 0 : meter.delivered / meter.expected,
      deliveriesPerSec: meter.delivered / sendSeconds,
      delivery: percentilesMs(meter.delivery),
      ackP99Ms: meter.ack.count > 0 ? percentilesMs(meter.ack).p99 : undefined,
      errors: Object.fromEntries(meter.errors),
      notifies: inboxes?.notifies ?? 0,
      expectedNotifies: meter.sent * notifiesPerMessage,
      pubsubChannels,
      placement,
      nodesCpuPct: pct(nodesSending),
      redisCpuPct: pct(redisSending),
      loadgenCpuPct: pct(loadgenSending),
      otherCpuPct: Math.max(0, pct(machineSending - nodesSending - redisSending - storeSending - loadgenSending)),
      gross,
      idle,
      net: netOf(gross, idle),
    };
  } finally {
    await seated.close();
  }
}

type JoinMetric = {
  count: number;
  errors: number;
  firstError?: string;
  p50Ms: number;
  p99Ms: number;
  /** Share of the joins asked of a node other than the one that hosts the room (seat reserved over Redis). */
  remoteShare: number;
  commandsPerJoin: number;
  topCommandsPerJoin: Record<string, number>;
  redisCpuUsPerJoin: number;
  /** Redis's own time inside the commands (commandstats), µs per join. */
  redisCommandUsPerJoin: number;
  nodeCpuUsPerJoin: number;
};

/** Sequential joins through the nodes round-robin: `count` new conversations, then a second member into each. */
async function joinProbe(redis: Redis, p: Processes, nodes: ClusterNode[], idle: Cost, tag: string): Promise<{ newJoins: JoinMetric; existingJoins: JoinMetric }> {
  const clients = nodes.map((node) => new Client(node.httpUrl));
  const hostOf = async (roomId: string) => {
    const listing = await redis.hget("roomcaches", roomId);
    const address = listing ? (JSON.parse(listing) as { publicAddress?: string }).publicAddress : undefined;
    return nodes.findIndex((node) => node.publicAddress === address);
  };
  const rooms: Room[] = [];
  const measure = async (target: (i: number) => { node: number; conversationId: string; userId: string }): Promise<JoinMetric> => {
    const latencies: number[] = [];
    const joined: Array<{ room: Room; asked: number }> = [];
    let errors = 0;
    let firstError: string | undefined;
    const before = await snapshot(redis, p);
    for (let i = 0; i < joinProbes; i++) {
      const { node, conversationId, userId } = target(i);
      const started = performance.now();
      try {
        const room = await clients[node]!.joinOrCreate("chat", { conversationId, userId });
        latencies.push(performance.now() - started);
        room.onMessage("*", () => undefined);
        joined.push({ room, asked: node });
      } catch (error) {
        errors++;
        firstError ??= errorText(error);
      }
    }
    const net = netOf(between(before, await snapshot(redis, p)), idle);
    rooms.push(...joined.map(({ room }) => room));
    let remote = 0;
    for (const { room, asked } of joined) if ((await hostOf(room.roomId)) !== asked) remote++;
    const count = joined.length;
    const sorted = latencies.sort((a, b) => a - b);
    return {
      count,
      errors,
      ...(firstError !== undefined && { firstError }),
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      remoteShare: per(remote, count),
      commandsPerJoin: per(net.commands, count),
      topCommandsPerJoin: topPer(net.perCommand, count),
      redisCpuUsPerJoin: per(net.redisCpuUs, count),
      redisCommandUsPerJoin: per(
        Object.values(net.usec).reduce((sum, us) => sum + us, 0),
        count,
      ),
      nodeCpuUsPerJoin: per(net.nodeCpuUs, count),
    };
  };
  try {
    const newJoins = await measure((i) => ({ node: i % nodes.length, conversationId: `channel:${tag}j${i}`, userId: `${tag}a${i}` }));
    const existingJoins = await measure((i) => ({ node: (i + 1) % nodes.length, conversationId: `channel:${tag}j${i}`, userId: `${tag}b${i}` }));
    return { newJoins, existingJoins };
  } finally {
    await leaveAll(rooms);
  }
}

type NotifyWindow = { sent: number; delivered: number; notifies: number; expectedNotifies: number; errors: Record<string, number>; net: Cost };

type NotifyResult = {
  channel: NotifyWindow;
  group: NotifyWindow;
  /** Nodes subscribed per inbox channel (PUBSUB NUMSUB over the probe's users): the fan-out of one notify. */
  subscribersPerInbox: number;
  /** Nodes subscribed to parley:moderation, a channel every node listens on. */
  subscribersPerClusterChannel: number;
  notifiesPerMessage: number;
  /** Group window less channel window, per notify received. */
  commandsPerNotify: number;
  publishPerNotify: number;
  redisCpuUsPerNotify: number;
  /** Redis's own time inside PUBLISH (commandstats), per call. */
  redisUsPerPublishCall: number;
  nodeCpuUsPerNotify: number;
  bytesIntoRedisPerNotify: number;
  bytesOutOfRedisPerNotify: number;
};

/**
 * The same users (each holding its inbox), the same rate: channel conversations, then group
 * conversations, whose every message also publishes a notify per other member.
 */
async function notifyProbe(redis: Redis, p: Processes, nodes: ClusterNode[], idle: Cost, tag: string): Promise<NotifyResult> {
  const users = Array.from({ length: notifyConversations }, (_, c) => Array.from({ length: roomSize }, (_, u) => userOf(`${tag}n`, c, u))).flat();
  const endpoints = nodes.map((node) => node.httpUrl);
  const inboxes = await seatInboxes(
    [...endpoints.slice(1), endpoints[0]!].map((endpoint) => new Client(endpoint)),
    users,
  );
  try {
    const windowOf = async (shape: "channel" | "group"): Promise<NotifyWindow & { subscribers?: number[] }> => {
      const seated = await seatWorkload(nodes, shape, notifyConversations, `${tag}n`, `${tag}n${shape[0]}`, false);
      const { meter, seating } = seated;
      const notifiesPerMessage = shape === "group" ? roomSize - 1 : 0;
      try {
        meter.reset();
        await sendOpenLoop(seating, meter, { ratePerSec: notifyRate, durationMs: 1000, textBytes });
        await drainAll(meter, inboxes, 0, DRAIN_MS);
        await sleep(500);
        meter.reset();
        inboxes.reset();
        const before = await snapshot(redis, p);
        await sendOpenLoop(seating, meter, { ratePerSec: notifyRate, durationMs: notifyMs, textBytes });
        await drainAll(meter, inboxes, meter.sent * notifiesPerMessage, DRAIN_MS);
        const net = netOf(between(before, await snapshot(redis, p)), idle);
        const subscribers =
          shape === "group" ? ((await redis.call("PUBSUB", "NUMSUB", ...users.map((user) => `parley:inbox:${user}`))) as Array<string | number>).filter((_, i) => i % 2 === 1).map(Number) : undefined;
        return {
          sent: meter.sent,
          delivered: meter.delivered,
          notifies: inboxes.notifies,
          expectedNotifies: meter.sent * notifiesPerMessage,
          errors: Object.fromEntries(meter.errors),
          net,
          ...(subscribers && { subscribers }),
        };
      } finally {
        await seated.close();
      }
    };
    const channel = await windowOf("channel");
    const { subscribers = [], ...group } = await windowOf("group");
    const moderation = (await redis.call("PUBSUB", "NUMSUB", "parley:moderation")) as Array<string | number>;
    const notifies = group.notifies;
    // Scale the channel window to the group window's messages, so the difference is the notifies alone.
    const k = per(group.sent, channel.sent);
    const diff = (pick: (cost: Cost) => number) => pick(group.net) - k * pick(channel.net);
    return {
      channel,
      group,
      subscribersPerInbox: subscribers.length ? subscribers.reduce((a, b) => a + b, 0) / subscribers.length : Number.NaN,
      subscribersPerClusterChannel: Number(moderation[1]),
      notifiesPerMessage: per(notifies, group.sent),
      commandsPerNotify: per(
        diff((c) => c.commands),
        notifies,
      ),
      publishPerNotify: per(
        diff((c) => c.perCommand.publish ?? 0),
        notifies,
      ),
      redisCpuUsPerNotify: per(
        diff((c) => c.redisCpuUs),
        notifies,
      ),
      redisUsPerPublishCall: per(group.net.usec.publish ?? 0, group.net.perCommand.publish ?? 0),
      nodeCpuUsPerNotify: per(
        diff((c) => c.nodeCpuUs),
        notifies,
      ),
      bytesIntoRedisPerNotify: per(
        diff((c) => c.inputBytes),
        notifies,
      ),
      bytesOutOfRedisPerNotify: per(
        diff((c) => c.outputBytes),
        notifies,
      ),
    };
  } finally {
    await leaveAll(inboxes.rooms);
  }
}

type SetupRun = {
  run: number;
  nodes: number;
  main?: MainResult;
  /** The background with nothing seated (before the probes). */
  emptyIdle?: Cost;
  joins?: { newJoins: JoinMetric; existingJoins: JoinMetric };
  notify?: NotifyResult;
  failed?: string;
  nodeErrors?: string[];
  /** Node log lines over the whole setup: leases found lapsed (a node stalled past ROOM_LEASE_MS), Colyseus IPC timeouts. */
  leaseLapses?: number;
  ipcTimeouts?: number;
};

/** Warning and error lines of the nodes (embedded-default notices left out), at most `limit`. */
function nodeErrorLines(cluster: Cluster, limit = 5): string[] {
  return cluster.nodes
    .flatMap((node) =>
      node
        .output()
        .split("\n")
        .map((line) => [node.name, line] as const),
    )
    .filter(([, line]) => /"level":(40|50|60)/.test(line) && !line.includes("embeddedDefault"))
    .slice(-limit)
    .map(([name, line]) => `${name}: ${line.slice(0, 300)}`);
}

async function runSetup(redisUrl: string, redis: Redis, store: Store | undefined, nodes: number, run: number): Promise<SetupRun> {
  const result: SetupRun = { run, nodes };
  await redis.flushall();
  const cluster = await startCluster({ nodes, redisUrl, ...(store && { mongoUrl: withDatabase(store.url, `parley_scale_${nodes}_${run}_${Date.now()}`) }), env: NODE_ENV });
  current = cluster;
  const p: Processes = { nodePids: cluster.nodes.map((node) => node.child.pid!), storePid: store?.pid };
  for (const pid of p.nodePids) pinProcess(pid, SERVER_CPU);
  const label = `run ${run + 1}/${runs} ${nodes === 1 ? "1 node " : `${nodes} nodes`}`;
  const tag = `s${run}n${nodes}`;
  try {
    await sleep(1500);
    say(`${label}: seating ${conversations * roomSize} clients in ${conversations} ${kind} conversations`);
    const main = (result.main = await mainWorkload(redis, p, cluster.nodes, tag));
    say(
      `${label}: ${main.deliveriesPerSec.toFixed(0)} deliveries/s (${(main.deliveredRatio * 100).toFixed(2)}%), p50 ${main.delivery.p50.toFixed(2)} p99 ${main.delivery.p99.toFixed(2)} ms; ` +
        `µs/delivery: nodes ${per(main.gross.nodeCpuUs, main.delivered).toFixed(2)} (net ${per(main.net.nodeCpuUs, main.delivered).toFixed(2)}), Redis ${per(main.gross.redisCpuUs, main.delivered).toFixed(2)}, store ${per(main.gross.storeCpuUs, main.delivered).toFixed(2)}; ` +
        `Redis ${((main.net.commands / main.gross.ms) * 1000).toFixed(1)} commands/s net (${per(main.net.commands, main.sent).toFixed(3)}/message), background ${((main.idle.commands / main.idle.ms) * 1000).toFixed(1)}/s; ` +
        `loadgen ${main.loadgenCpuPct.toFixed(0)}% other ${main.otherCpuPct.toFixed(0)}%${Object.keys(main.errors).length ? ` errors ${JSON.stringify(main.errors)}` : ""}${kind === "group" ? ` notifies ${main.notifies}/${main.expectedNotifies}` : ""}`,
    );
    // The workload's rooms go ROOM_IDLE_MS after their last client left; their disposal stays out of the probes.
    await sleep(ROOM_IDLE_MS + 2000);
    const emptyIdle = (result.emptyIdle = await idleWindow(redis, p));
    const joins = (result.joins = await joinProbe(redis, p, cluster.nodes, emptyIdle, tag));
    say(
      `${label}: joins new p50 ${joins.newJoins.p50Ms.toFixed(1)} ms, ${joins.newJoins.commandsPerJoin.toFixed(1)} commands, ${joins.newJoins.redisCpuUsPerJoin.toFixed(0)} µs Redis CPU, remote ${(joins.newJoins.remoteShare * 100).toFixed(0)}%; ` +
        `existing p50 ${joins.existingJoins.p50Ms.toFixed(1)} ms, ${joins.existingJoins.commandsPerJoin.toFixed(1)} commands, ${joins.existingJoins.redisCpuUsPerJoin.toFixed(0)} µs, remote ${(joins.existingJoins.remoteShare * 100).toFixed(0)}%`,
    );
    await sleep(ROOM_IDLE_MS + 2000);
    const notify = (result.notify = await notifyProbe(redis, p, cluster.nodes, emptyIdle, tag));
    say(
      `${label}: notify ${notify.publishPerNotify.toFixed(2)} PUBLISH, ${notify.commandsPerNotify.toFixed(2)} commands, ${notify.redisCpuUsPerNotify.toFixed(2)} µs Redis CPU, ${notify.nodeCpuUsPerNotify.toFixed(2)} µs node CPU per notify; ` +
        `${notify.subscribersPerInbox.toFixed(2)} subscribers per inbox channel, ${notify.subscribersPerClusterChannel} on parley:moderation; notifies ${notify.group.notifies}/${notify.group.expectedNotifies}`,
    );
  } catch (error) {
    result.failed = errorText(error);
    say(`${label}: failed: ${result.failed}`);
  } finally {
    result.nodeErrors = nodeErrorLines(cluster);
    const logged = (text: string) => cluster.nodes.reduce((sum, node) => sum + node.output().split(text).length - 1, 0);
    result.leaseLapses = logged("lease had lapsed");
    result.ipcTimeouts = logged("ipc_timeout");
    await cluster.stop();
    current = undefined;
  }
  return result;
}

// --- summary ---------------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const sorted = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Medians over the runs of one setup. */
function summarise(all: SetupRun[], nodes: number) {
  const runsOf = all.filter((r) => r.nodes === nodes);
  const m = (pick: (r: SetupRun) => number | undefined) => median(runsOf.map((r) => pick(r) ?? Number.NaN));
  const main = (pick: (x: MainResult) => number) => m((r) => (r.main ? pick(r.main) : undefined));
  const perSec = (value: number, ms: number) => (value / ms) * 1000;
  return {
    nodes,
    runs: runsOf.filter((r) => r.main).length,
    failures: runsOf.filter((r) => r.failed).map((r) => `run ${r.run + 1}: ${r.failed}`),
    leaseLapses: runsOf.reduce((sum, r) => sum + (r.leaseLapses ?? 0), 0),
    ipcTimeouts: runsOf.reduce((sum, r) => sum + (r.ipcTimeouts ?? 0), 0),
    deliveriesPerSec: main((x) => x.deliveriesPerSec),
    deliveredPct: main((x) => x.deliveredRatio * 100),
    p50Ms: main((x) => x.delivery.p50),
    p99Ms: main((x) => x.delivery.p99),
    ackP99Ms: main((x) => x.ackP99Ms ?? Number.NaN),
    nodeCpuUsPerDelivery: main((x) => per(x.gross.nodeCpuUs, x.delivered)),
    nodeCpuNetUsPerDelivery: main((x) => per(x.net.nodeCpuUs, x.delivered)),
    redisCpuUsPerDelivery: main((x) => per(x.gross.redisCpuUs, x.delivered)),
    redisCpuNetUsPerDelivery: main((x) => per(x.net.redisCpuUs, x.delivered)),
    storeCpuUsPerDelivery: main((x) => per(x.gross.storeCpuUs, x.delivered)),
    totalCpuUsPerDelivery: main((x) => per(x.gross.nodeCpuUs + x.gross.redisCpuUs + x.gross.storeCpuUs, x.delivered)),
    redisCommandsPerSec: main((x) => perSec(x.gross.commands, x.gross.ms)),
    redisCommandsNetPerSec: main((x) => perSec(x.net.commands, x.gross.ms)),
    redisCommandsPerMessage: main((x) => per(x.gross.commands, x.sent)),
    redisCommandsNetPerMessage: main((x) => per(x.net.commands, x.sent)),
    redisBytesOutNetPerMessage: main((x) => per(x.net.outputBytes, x.sent)),
    idleRedisCommandsPerSec: main((x) => perSec(x.idle.commands, x.idle.ms)),
    idleRedisCpuUsPerSec: main((x) => perSec(x.idle.redisCpuUs, x.idle.ms)),
    idleNodeCpuUsPerSec: main((x) => perSec(x.idle.nodeCpuUs, x.idle.ms)),
    emptyIdleRedisCommandsPerSec: m((r) => (r.emptyIdle ? perSec(r.emptyIdle.commands, r.emptyIdle.ms) : undefined)),
    emptyIdleNodeCpuUsPerSec: m((r) => (r.emptyIdle ? perSec(r.emptyIdle.nodeCpuUs, r.emptyIdle.ms) : undefined)),
    pubsubChannels: main((x) => x.pubsubChannels),
    /** Chat rooms / seated chat clients per node, in the first run. */
    placement:
      runsOf
        .find((r) => r.main)
        ?.main?.placement.map(({ rooms, clients }) => `${rooms} / ${clients}`)
        .join(", ") ?? "n/a",
    /** On every node of every run: seated chat clients = room-size × chat rooms (every member on its room's node). */
    placementConsistent: runsOf.some((r) => r.main) && runsOf.every((r) => !r.main || r.main.placement.every(({ rooms, clients }) => clients === rooms * roomSize)),
    nodesCpuPct: main((x) => x.nodesCpuPct),
    redisCpuPct: main((x) => x.redisCpuPct),
    loadgenCpuPct: main((x) => x.loadgenCpuPct),
    otherCpuPct: main((x) => x.otherCpuPct),
    notifiesReceivedPct: main((x) => (x.expectedNotifies > 0 ? (x.notifies / x.expectedNotifies) * 100 : Number.NaN)),
    topCommandsPerMessage: runsOf.find((r) => r.main)?.main ? topPer(runsOf.find((r) => r.main)!.main!.net.perCommand, runsOf.find((r) => r.main)!.main!.sent) : {},
    newJoin: joinSummary(runsOf, "newJoins"),
    existingJoin: joinSummary(runsOf, "existingJoins"),
    notify: {
      publishPerNotify: m((r) => r.notify?.publishPerNotify),
      commandsPerNotify: m((r) => r.notify?.commandsPerNotify),
      redisCpuUsPerNotify: m((r) => r.notify?.redisCpuUsPerNotify),
      redisUsPerPublishCall: m((r) => r.notify?.redisUsPerPublishCall),
      nodeCpuUsPerNotify: m((r) => r.notify?.nodeCpuUsPerNotify),
      bytesOutOfRedisPerNotify: m((r) => r.notify?.bytesOutOfRedisPerNotify),
      subscribersPerInbox: m((r) => r.notify?.subscribersPerInbox),
      subscribersPerClusterChannel: m((r) => r.notify?.subscribersPerClusterChannel),
      notifiesReceivedPct: m((r) => (r.notify ? per(r.notify.group.notifies, r.notify.group.expectedNotifies) * 100 : undefined)),
      /** Redis CPU per command in the group window (notifies and all), net of the background. */
      redisCpuUsPerCommand: m((r) => (r.notify ? per(r.notify.group.net.redisCpuUs, r.notify.group.net.commands) : undefined)),
    },
  };
}

function joinSummary(runsOf: SetupRun[], which: "newJoins" | "existingJoins") {
  const m = (pick: (j: JoinMetric) => number) => median(runsOf.map((r) => (r.joins ? pick(r.joins[which]) : Number.NaN)));
  return {
    p50Ms: m((j) => j.p50Ms),
    p99Ms: m((j) => j.p99Ms),
    remoteShare: m((j) => j.remoteShare),
    commandsPerJoin: m((j) => j.commandsPerJoin),
    redisCpuUsPerJoin: m((j) => j.redisCpuUsPerJoin),
    redisCommandUsPerJoin: m((j) => j.redisCommandUsPerJoin),
    nodeCpuUsPerJoin: m((j) => j.nodeCpuUsPerJoin),
    errors: runsOf.reduce((sum, r) => sum + (r.joins?.[which].errors ?? 0), 0),
    topCommandsPerJoin: runsOf.find((r) => r.joins)?.joins?.[which].topCommandsPerJoin ?? {},
  };
}

type Summary = ReturnType<typeof summarise>;

const fmt = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? "n/a" : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
/** a / b; n/a unless both are positive (a net value near zero can come out negative: noise, not a ratio). */
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : "n/a");

function comparisonTable(one: Summary, many: Summary): string[] {
  const rows: Array<[string, (s: Summary) => number, number]> = [
    ["deliveries/s", (s) => s.deliveriesPerSec, 0],
    ["delivered (%)", (s) => s.deliveredPct, 2],
    ["delivery p50 (ms)", (s) => s.p50Ms, 2],
    ["delivery p99 (ms)", (s) => s.p99Ms, 2],
    ["send ack p99 (ms)", (s) => s.ackP99Ms, 2],
    ["**server CPU µs / delivery: all nodes**", (s) => s.nodeCpuUsPerDelivery, 2],
    ["server CPU µs / delivery: Redis", (s) => s.redisCpuUsPerDelivery, 2],
    ["server CPU µs / delivery: store", (s) => s.storeCpuUsPerDelivery, 2],
    ["**server CPU µs / delivery: total**", (s) => s.totalCpuUsPerDelivery, 2],
    ["nodes µs / delivery, net of their background", (s) => s.nodeCpuNetUsPerDelivery, 2],
    ["Redis µs / delivery, net of its background", (s) => s.redisCpuNetUsPerDelivery, 3],
    ["Redis commands/s during the window", (s) => s.redisCommandsPerSec, 1],
    ["Redis commands/s, net of the background", (s) => s.redisCommandsNetPerSec, 1],
    ["Redis commands / message", (s) => s.redisCommandsPerMessage, 3],
    ["Redis commands / message, net of the background", (s) => s.redisCommandsNetPerMessage, 3],
    ["background (seated, nothing sent): Redis commands/s", (s) => s.idleRedisCommandsPerSec, 1],
    ["background: Redis CPU µs/s", (s) => s.idleRedisCpuUsPerSec, 0],
    ["background: all nodes' CPU µs/s", (s) => s.idleNodeCpuUsPerSec, 0],
    ["background with nothing seated: Redis commands/s", (s) => s.emptyIdleRedisCommandsPerSec, 1],
    ["background with nothing seated: all nodes' CPU µs/s", (s) => s.emptyIdleNodeCpuUsPerSec, 0],
    ["Redis pub/sub channels (seated)", (s) => s.pubsubChannels, 0],
    ["all nodes' CPU while sending (% of a core)", (s) => s.nodesCpuPct, 0],
    ["Redis CPU while sending (% of a core)", (s) => s.redisCpuPct, 1],
    ["load generator CPU (% of a core)", (s) => s.loadgenCpuPct, 0],
    ["other processes' CPU (% of a core)", (s) => s.otherCpuPct, 0],
    ["node lease lapses logged, all runs (a node stalled past ROOM_LEASE_MS)", (s) => s.leaseLapses, 0],
    ["Colyseus IPC timeouts logged, all runs", (s) => s.ipcTimeouts, 0],
    ...(kind === "group" ? ([["inbox notifies received (%)", (s: Summary) => s.notifiesReceivedPct, 2]] as Array<[string, (s: Summary) => number, number]>) : []),
  ];
  return [
    `| metric (median of runs) | 1 node | ${many.nodes} nodes | ${many.nodes} nodes / 1 node |`,
    "|---|---|---|---|",
    ...rows.map(([label, pick, digits]) => `| ${label} | ${fmt(pick(one), digits)} | ${fmt(pick(many), digits)} | ${ratio(pick(many), pick(one))} |`),
  ];
}

function operationsTable(one: Summary, many: Summary): string[] {
  const rows: Array<[string, (s: Summary) => number, number]> = [
    ["new-conversation join: p50 (ms)", (s) => s.newJoin.p50Ms, 1],
    ["new-conversation join: p99 (ms)", (s) => s.newJoin.p99Ms, 1],
    ["new-conversation join: asked of a node not hosting the room (%)", (s) => s.newJoin.remoteShare * 100, 0],
    ["new-conversation join: Redis commands", (s) => s.newJoin.commandsPerJoin, 1],
    ["new-conversation join: Redis CPU µs", (s) => s.newJoin.redisCpuUsPerJoin, 0],
    ["new-conversation join: µs inside Redis commands", (s) => s.newJoin.redisCommandUsPerJoin, 0],
    ["new-conversation join: all nodes' CPU µs", (s) => s.newJoin.nodeCpuUsPerJoin, 0],
    ["existing-conversation join: p50 (ms)", (s) => s.existingJoin.p50Ms, 1],
    ["existing-conversation join: p99 (ms)", (s) => s.existingJoin.p99Ms, 1],
    ["existing-conversation join: asked of a node not hosting the room (%)", (s) => s.existingJoin.remoteShare * 100, 0],
    ["existing-conversation join: Redis commands", (s) => s.existingJoin.commandsPerJoin, 1],
    ["existing-conversation join: Redis CPU µs", (s) => s.existingJoin.redisCpuUsPerJoin, 0],
    ["existing-conversation join: µs inside Redis commands", (s) => s.existingJoin.redisCommandUsPerJoin, 0],
    ["existing-conversation join: all nodes' CPU µs", (s) => s.existingJoin.nodeCpuUsPerJoin, 0],
    ["inbox notify: PUBLISH", (s) => s.notify.publishPerNotify, 3],
    ["inbox notify: Redis commands", (s) => s.notify.commandsPerNotify, 3],
    ["inbox notify: Redis CPU µs", (s) => s.notify.redisCpuUsPerNotify, 2],
    ["inbox notify: µs inside Redis per PUBLISH call", (s) => s.notify.redisUsPerPublishCall, 2],
    ["inbox notify: all nodes' CPU µs (publish, receive, push to the inbox)", (s) => s.notify.nodeCpuUsPerNotify, 2],
    ["inbox notify: bytes out of Redis", (s) => s.notify.bytesOutOfRedisPerNotify, 0],
    ["inbox notify: received (%)", (s) => s.notify.notifiesReceivedPct, 2],
    ["subscribers per inbox channel (nodes a notify goes to)", (s) => s.notify.subscribersPerInbox, 2],
    ["subscribers of parley:moderation (a cluster-wide channel)", (s) => s.notify.subscribersPerClusterChannel, 0],
    ["Redis CPU µs per command (notify window, net)", (s) => s.notify.redisCpuUsPerCommand, 2],
    ["Redis CPU µs per command (new joins, net)", (s) => per(s.newJoin.redisCpuUsPerJoin, s.newJoin.commandsPerJoin), 2],
  ];
  return [
    `| per operation (median of runs) | 1 node | ${many.nodes} nodes | ${many.nodes} nodes / 1 node |`,
    "|---|---|---|---|",
    ...rows.map(([label, pick, digits]) => `| ${label} | ${fmt(pick(one), digits)} | ${fmt(pick(many), digits)} | ${ratio(pick(many), pick(one))} |`),
  ];
}

/**
 * The model of N nodes with the measured numbers plugged in: what is flat in N, what grows with it
 * (per-node background, the remote share of joins), and what does not (notify fan-out).
 */
function model(one: Summary, many: Summary): string[] {
  const n = many.nodes;
  const span = n - 1;
  // Background: a line through the two measured setups (seated, nothing sent).
  const redisCmdPerNode = (many.idleRedisCommandsPerSec - one.idleRedisCommandsPerSec) / span;
  const redisCpuPerNode = (many.idleRedisCpuUsPerSec - one.idleRedisCpuUsPerSec) / span;
  const nodeCpuPerNode = (many.idleNodeCpuUsPerSec - one.idleNodeCpuUsPerSec) / span;
  const bgRedisCmd = (N: number) => one.idleRedisCommandsPerSec + (N - 1) * redisCmdPerNode;
  const bgRedisCpu = (N: number) => one.idleRedisCpuUsPerSec + (N - 1) * redisCpuPerNode;
  const bgNodeCpu = (N: number) => one.idleNodeCpuUsPerSec + (N - 1) * nodeCpuPerNode;
  // Joins: a remote join (asked of a node that does not host the room) costs extra Redis work.
  const remoteExtra = (pick: (s: Summary["newJoin"]) => number, which: "newJoin" | "existingJoin") =>
    many[which].remoteShare > 0 ? (pick(many[which]) - pick(one[which])) / many[which].remoteShare : Number.NaN;
  const joinCmd = (N: number, which: "newJoin" | "existingJoin") => one[which].commandsPerJoin + ((N - 1) / N) * remoteExtra((j) => j.commandsPerJoin, which);
  const joinRedisCpu = (N: number, which: "newJoin" | "existingJoin") => one[which].redisCpuUsPerJoin + ((N - 1) / N) * remoteExtra((j) => j.redisCpuUsPerJoin, which);
  const joinNodeCpu = (N: number, which: "newJoin" | "existingJoin") => one[which].nodeCpuUsPerJoin + ((N - 1) / N) * remoteExtra((j) => j.nodeCpuUsPerJoin, which);
  // Per delivery. D: deliveries/s per node (the 1-node run's load, each node carrying as much).
  const D = one.deliveriesPerSec;
  const clientsPerNode = conversations * roomSize;
  /** Joins per delivery: each client (re)joins once a minute (an assumption, stated in the text). */
  const joinsPerDelivery = clientsPerNode / 60 / D;
  const nodeCost = (N: number) => (N === 1 ? one.nodeCpuNetUsPerDelivery : many.nodeCpuNetUsPerDelivery);
  const redisMsgCost = (N: number) => (N === 1 ? one.redisCpuNetUsPerDelivery : many.redisCpuNetUsPerDelivery);
  const background = (N: number) => (bgNodeCpu(N) + bgRedisCpu(N)) / (N * D);
  // New and existing joins alike: the mean of the two.
  const joinCost = (N: number) => joinsPerDelivery * ((joinRedisCpu(N, "newJoin") + joinRedisCpu(N, "existingJoin")) / 2 + (joinNodeCpu(N, "newJoin") + joinNodeCpu(N, "existingJoin")) / 2);
  const notifyUs = Math.max(0, median([one.notify.redisCpuUsPerNotify, many.notify.redisCpuUsPerNotify]));
  const notifyNodeUs = Math.max(0, median([one.notify.nodeCpuUsPerNotify, many.notify.nodeCpuUsPerNotify]));
  const notifyPerDelivery = (roomSize - 1) / roomSize;
  const groupExtra = notifyPerDelivery * (notifyUs + notifyNodeUs);
  // A group workload's measured costs include its notifies: the channel estimate takes the probe's notify cost out.
  const nodeChannel = (N: number) => nodeCost(N) - (kind === "group" ? notifyPerDelivery * notifyNodeUs : 0);
  const redisChannel = (N: number) => Math.max(0, redisMsgCost(N) - (kind === "group" ? notifyPerDelivery * notifyUs : 0));
  const channelTotal = (N: number) => nodeChannel(N) + redisChannel(N) + background(N) + joinCost(N);
  // Redis's one thread: its share of a core with N nodes each delivering D/s.
  const redisUsPerSec = (N: number, group: boolean) =>
    bgRedisCpu(N) + N * D * redisChannel(N) + N * D * joinsPerDelivery * ((joinRedisCpu(N, "newJoin") + joinRedisCpu(N, "existingJoin")) / 2) + (group ? N * D * notifyPerDelivery * notifyUs : 0);
  const redisSharePct = (N: number, group: boolean) => redisUsPerSec(N, group) / 1e4;
  const perNodeRedisGroup = redisUsPerSec(2, true) - redisUsPerSec(1, true);
  const perNodeRedisChannel = redisUsPerSec(2, false) - redisUsPerSec(1, false);
  const saturatesAt = (perNode: number, base: number) => (perNode > 0 ? Math.floor((1e6 - base) / perNode) : Number.POSITIVE_INFINITY);
  const Ns = [1, 2, 3, 4, 8, 16, 32];
  const rows = Ns.map(
    (N) =>
      `| ${N} | ${fmt(nodeChannel(N), 2)} | ${fmt(background(N), 2)} | ${fmt(joinCost(N), 2)} | ${fmt(channelTotal(N), 2)} | ${fmt(channelTotal(N) + groupExtra, 2)} | ${fmt(bgRedisCmd(N), 0)} | ${fmt((joinCmd(N, "newJoin") + joinCmd(N, "existingJoin")) / 2, 1)} | ${fmt(redisSharePct(N, false), 1)} | ${fmt(redisSharePct(N, true), 1)} |`,
  );
  const cmdNew1 = one.newJoin.commandsPerJoin;
  const cmdNewN = many.newJoin.commandsPerJoin;
  return [
    "## Model: cost per delivery at N nodes",
    "",
    "Cost per delivery at N nodes, each node carrying the 1-node run's load (D deliveries/s per node; the cluster grows with the load):",
    "",
    "    C(N) = c_node + r_msg + [B_node(N) + B_redis(N)] / (N·D) + (J/D)·[j_local + (N−1)/N · j_remote] + q·(m−1)/m · (r_notify + n_notify)",
    "",
    `- **c_node, node CPU per delivery: no term in N.** A conversation's room lives on one node and every member's socket is on that node (a join through another node reserves the seat there over Redis, then the client connects to the host${many.placementConsistent ? "; checked: on every node, seated chat clients = room-size × chat rooms" : ""}), so each delivery is encoded and written by one node whatever N. Measured net of the background: ${fmt(one.nodeCpuNetUsPerDelivery, 2)} µs at 1 node, ${fmt(many.nodeCpuNetUsPerDelivery, 2)} µs at ${n} nodes, ${ratio(many.nodeCpuNetUsPerDelivery, one.nodeCpuNetUsPerDelivery)} (gross ${fmt(one.nodeCpuUsPerDelivery, 2)} and ${fmt(many.nodeCpuUsPerDelivery, 2)} µs). Redis carries none of it (next line), so the difference is in the nodes themselves, which this bench does not split further: here the ${n} nodes share one core, each with a share of the rooms (fewer messages per wake-up and per write), its own event loop, timers and heap.`,
    `- **r_msg, Redis on a message's path.** A ${kind} message costs ${fmt(one.redisCommandsNetPerMessage, 3)} Redis commands at 1 node and ${fmt(many.redisCommandsNetPerMessage, 3)} at ${n} nodes, net of the background (${fmt(one.redisCpuNetUsPerDelivery, 3)} and ${fmt(many.redisCpuNetUsPerDelivery, 3)} µs Redis CPU per delivery)${kind === "channel" ? ": rate limits, history in memory and the fan-out all stay on the hosting node" : ", the notifies below included"}.`,
    `- **B(N), background: a term per node.** Every node renews its lease every ROOM_LEASE_MS/4 (${leaseMs / 4} ms), writes its console stats and holds its Redis connections, whatever it carries. Measured seated with nothing sent: Redis ${fmt(one.idleRedisCommandsPerSec, 1)} commands/s and ${fmt(one.idleRedisCpuUsPerSec, 0)} µs CPU/s at 1 node, ${fmt(many.idleRedisCommandsPerSec, 1)} and ${fmt(many.idleRedisCpuUsPerSec, 0)} at ${n}: **${fmt(redisCmdPerNode, 1)} commands/s and ${fmt(redisCpuPerNode, 0)} µs Redis CPU/s per extra node**; the nodes' own idle CPU ${fmt(one.idleNodeCpuUsPerSec, 0)} µs/s at 1 node, ${fmt(many.idleNodeCpuUsPerSec, 0)} at ${n} (${fmt(nodeCpuPerNode, 0)} µs/s per extra node). Spread over D = ${fmt(D, 0)} deliveries/s per node: ${fmt(background(1), 2)} µs per delivery at 1 node, ${fmt(background(n), 2)} at ${n}. Per delivery it stays put while every node is loaded; on Redis it adds up, N times.`,
    `- **Pub/sub fan-in: one Redis thread takes every node's publishes, and delivers each PUBLISH to every node subscribed to its channel.** Subscribers per inbox channel: ${fmt(one.notify.subscribersPerInbox, 2)} at 1 node, ${fmt(many.notify.subscribersPerInbox, 2)} at ${n} nodes (one inbox room per user, on one node), so a notify is one PUBLISH in and one message out, with no term in N. A cluster-wide channel (parley:moderation: ${fmt(one.notify.subscribersPerClusterChannel, 0)} and ${fmt(many.notify.subscribersPerClusterChannel, 0)} subscribers) costs N deliveries per publish, but is published per moderation action, not per message. Seated, Redis held ${fmt(one.pubsubChannels, 0)} channels at 1 node and ${fmt(many.pubsubChannels, 0)} at ${n}.`,
    `- **Inbox notifies (dm and group): one PUBLISH per other member per message**, (m−1)/m = ${fmt(notifyPerDelivery, 2)} per delivery at m = ${roomSize}; q is the share of messages in dm and group conversations. Measured per notify (group window less channel window, same users and rate), at 1 / ${n} nodes: ${fmt(one.notify.publishPerNotify, 3)} / ${fmt(many.notify.publishPerNotify, 3)} PUBLISH; r_notify = ${fmt(one.notify.redisCpuUsPerNotify, 2)} / ${fmt(many.notify.redisCpuUsPerNotify, 2)} µs Redis CPU (${ratio(many.notify.redisCpuUsPerNotify, one.notify.redisCpuUsPerNotify)}), of which ${fmt(one.notify.redisUsPerPublishCall, 2)} / ${fmt(many.notify.redisUsPerPublishCall, 2)} µs inside PUBLISH itself and the rest Redis's network I/O; n_notify = ${fmt(one.notify.nodeCpuUsPerNotify, 2)} / ${fmt(many.notify.nodeCpuUsPerNotify, 2)} µs node CPU (${ratio(many.notify.nodeCpuUsPerNotify, one.notify.nodeCpuUsPerNotify)}: serialise and publish, receive, push to the inbox's client).`,
    `- **Route lookups: per join.** A new-conversation join costs ${fmt(cmdNew1, 1)} Redis commands at 1 node and ${fmt(cmdNewN, 1)} at ${n} nodes, where ${fmt(many.newJoin.remoteShare * 100, 0)} % of them were asked of a node that did not host the room; an existing-conversation join ${fmt(one.existingJoin.commandsPerJoin, 1)} and ${fmt(many.existingJoin.commandsPerJoin, 1)} (${fmt(many.existingJoin.remoteShare * 100, 0)} % remote). The route lookup itself is O(1) (one script: GET the route, check the node's lease and alive channel); what N adds is the share (N−1)/N of joins that reach a node other than the host and reserve the seat there over pub/sub: j_remote = ${fmt(
      remoteExtra((j) => j.commandsPerJoin, "newJoin"),
      1,
    )} commands and ${fmt(
      remoteExtra((j) => j.redisCpuUsPerJoin, "newJoin"),
      0,
    )} µs Redis CPU more per new join, ${fmt(
      remoteExtra((j) => j.commandsPerJoin, "existingJoin"),
      1,
    )} commands and ${fmt(
      remoteExtra((j) => j.redisCpuUsPerJoin, "existingJoin"),
      0,
    )} µs per existing join. (N−1)/N tends to 1: the join cost is bounded, ${fmt(joinCmd(32, "newJoin"), 1)} commands per new join at 32 nodes.`,
    `- **Redis CPU per command:** ${fmt(many.notify.redisCpuUsPerCommand, 2)} µs in the notify window (PUBLISH-heavy), ${fmt(many.newJoin.commandsPerJoin > 0 ? many.newJoin.redisCpuUsPerJoin / many.newJoin.commandsPerJoin : Number.NaN, 2)} µs in new joins (scripts; \`total_commands_processed\` counts the commands a script runs too), so one Redis core does roughly ${fmt(1e6 / many.notify.redisCpuUsPerNotify, 0)} notifies/s.`,
    "",
    `Plugged in, with D = ${fmt(D, 0)} deliveries/s per node (this run's 1-node load: ${conversations * roomSize} clients, ${conversations} conversations of ${roomSize}, ${ratePerSec} messages/s), J/D = ${fmt(joinsPerDelivery, 4)} (an assumption: each of a node's ${clientsPerNode} clients joins once a minute), joins half new, half existing; c_node and r_msg as measured at 1 node for N = 1 and at ${n} nodes for N ≥ 2${kind === "group" ? " (this run measured group conversations: the channel figures are those less the notify probe's cost per notify)" : ""}; B and j_remote extrapolated on the lines through the two measured setups. "Redis core" is Redis's share of one core with every node at D:`,
    "",
    "| N | c_node µs (channel) | background µs | joins µs | **channel: µs / delivery** | **group (q = 1): µs / delivery** | Redis background commands/s | Redis commands per join | Redis core, channel (%) | Redis core, group (%) |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `Redis is the one thing all nodes share: by this model each node at D adds about ${fmt(perNodeRedisChannel / 1e4, 2)} % of a Redis core with channel traffic (background and joins) and ${fmt(perNodeRedisGroup / 1e4, 2)} % with group traffic (notifies included), so one Redis core would saturate near N = ${fmt(saturatesAt(perNodeRedisChannel, bgRedisCpu(1) - perNodeRedisChannel), 0)} nodes of channel traffic and N = ${fmt(saturatesAt(perNodeRedisGroup, bgRedisCpu(1) - perNodeRedisGroup), 0)} of group traffic at this load per node. Below that, what N adds per delivery is the per-node background and the remote share of joins; the rest is the node's own cost per delivery.`,
  ];
}

function machine(): string {
  const redisVersion = /v=(\S+)/.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout ?? "")?.[1] ?? "unknown";
  return `${machineLine()}, Redis ${redisVersion}`;
}

function markdown(all: SetupRun[], one: Summary, many: Summary, started: Date, durationSec: number, storeKind: string): string {
  const failures = [...one.failures.map((f) => `1 node ${f}`), ...many.failures.map((f) => `${many.nodes} nodes ${f}`)];
  const nodeErrors = all.flatMap((r) => (r.nodeErrors ?? []).map((line) => `run ${r.run + 1} ${r.nodes} node(s): ${line}`)).slice(0, 10);
  return [
    `# Scale-out: 1 node against ${many.nodes} nodes on one machine`,
    "",
    `Run ${started.toISOString()} by \`npm run bench:scale\` (loadtest/bench-scale.ts), ${Math.round(durationSec)} s. Numbers are reported, never asserted.`,
    "",
    `- Machine: ${machine()}.`,
    `- CPU split: ${hasTaskset ? `every node, Redis and the store pinned to CPU ${SERVER_CPU}; this load generator to CPU ${LOADGEN_CPU} (taskset -a)` : "no taskset: processes unpinned"}. The ${many.nodes} nodes share one core: this measures what scale-out costs per delivery, not what it buys in capacity.`,
    `- Workload: ${conversations * roomSize} clients in ${conversations} ${kind} conversations of ${roomSize}${kind === "group" ? ", every member also seated in its inbox" : ""}, ${textBytes}-byte texts, ${ratePerSec} messages/s open loop for ${windowMs / 1000} s after ${warmupMs / 1000} s of warm-up; clients spread over the nodes' endpoints round-robin (member u of conversation c through node (c + u) mod N), the way a load balancer would. A delivery is one \`message\` received by one member, the sender included. Median of ${runs} runs, each measuring both setups, alternating which goes first.`,
    `- Setups: one Redis (redis-server, emptied before each setup); history: ${storeKind}; nodes from deploy/cluster.ts (ROLE=all, ROUTING=leases, ROOM_LEASE_MS=${leaseMs}, ROOM_IDLE_MS=${ROOM_IDLE_MS}, TRANSPORT=ws, rate limits raised to 100000). The 1-node setup sets REDIS_URL too: both run the cluster code path.`,
    `- CPU per delivery: each process's CPU time (/proc) from the window's first send until its deliveries drained, divided by the deliveries; "net of the background" subtracts a ${idleMs / 1000} s window of the same setup right before it, seated with nothing sent. Redis commands: INFO commandstats and total_commands_processed (commands inside Lua scripts count too), the INFO calls themselves left out.`,
    `- Per-operation probes, on the same nodes after the workload, net of a background window with nothing seated: ${joinProbes} sequential joins of new \`channel:\` conversations through the nodes round-robin, then ${joinProbes} second members into them through the next node; an inbox-notify probe with ${notifyConversations} conversations of ${roomSize} users (each holding its inbox) at ${notifyRate} messages/s for ${notifyMs / 1000} s in channel conversations, then in group conversations: the difference is the notifies.`,
    "",
    "## Cost per delivery, 1 node against the cluster",
    "",
    ...comparisonTable(one, many),
    "",
    `Chat rooms / seated chat clients per node, once seated (first run): 1 node ${one.placement}; ${many.nodes} nodes ${many.placement}. Every node, every run, held room-size × its rooms in clients (each member connected to its room's node): ${one.placementConsistent && many.placementConsistent ? "yes" : "no"}.`,
    "",
    `Top Redis commands per message, net (1 node): ${JSON.stringify(one.topCommandsPerMessage)}; (${many.nodes} nodes): ${JSON.stringify(many.topCommandsPerMessage)}.`,
    "",
    "## Per operation",
    "",
    ...operationsTable(one, many),
    "",
    `Top Redis commands per new join (1 node): ${JSON.stringify(one.newJoin.topCommandsPerJoin)}; (${many.nodes} nodes): ${JSON.stringify(many.newJoin.topCommandsPerJoin)}. Per existing join (1 node): ${JSON.stringify(one.existingJoin.topCommandsPerJoin)}; (${many.nodes} nodes): ${JSON.stringify(many.existingJoin.topCommandsPerJoin)}. Join errors: new ${one.newJoin.errors + many.newJoin.errors}, existing ${one.existingJoin.errors + many.existingJoin.errors}.`,
    "",
    ...model(one, many),
    "",
    ...(failures.length ? ["## Failed runs", "", ...failures.map((f) => `- ${f}`), ""] : []),
    ...(nodeErrors.length ? ["## Node warnings (last lines)", "", ...nodeErrors.map((line) => `- \`${line.replaceAll("`", "'")}\``), ""] : []),
  ].join("\n");
}

// --- main ------------------------------------------------------------------------------------------

type Store = { url: string; pid: number | undefined; kind: string; stop(): Promise<void> };

let current: Cluster | undefined;
const started = new Date();
const redisService = await startRedis();
const redis = new Redis(redisService.url);
const redisPid = Number(/^process_id:(\d+)/m.exec(await redis.info("server"))?.[1]);
pinProcess(redisPid, SERVER_CPU);
let store: Store | undefined;
const stopEverything = async () => {
  await current?.stop().catch(() => undefined);
  redis.disconnect();
  await redisService.stop();
  await store?.stop();
};
process.once("SIGINT", () => void stopEverything().then(() => process.exit(130)));
process.once("SIGTERM", () => void stopEverything().then(() => process.exit(143)));

const all: SetupRun[] = [];
try {
  if (values.store === "mongo-wire") {
    const mongo = await startMongoWire(say);
    const pid = pidListeningOn(mongo.port);
    if (pid !== undefined) pinProcess(pid, SERVER_CPU);
    store = { url: mongo.url, pid, kind: mongo.kind === "mongod" ? "mongod" : "FerretDB on SQLite", stop: mongo.stop };
    if (pid === undefined) say(`${store.kind}: its process was not found; its CPU is not counted`);
  }
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? [1, clusterNodes] : [clusterNodes, 1];
    for (const nodes of order) all.push(await runSetup(redisService.url, redis, store, nodes, run));
  }
} finally {
  await stopEverything();
}

const one = summarise(all, 1);
const many = summarise(all, clusterNodes);
const storeKind = store ? `one ${store.kind} for all nodes (MONGO_URL), a database per setup` : "in memory on each node (no MONGO_URL)";
const durationSec = (Date.now() - started.getTime()) / 1000;
const report = markdown(all, one, many, started, durationSec, storeKind);
mkdirSync(values.out, { recursive: true });
writeFileSync(
  join(values.out, "scale.json"),
  JSON.stringify(
    {
      startedAt: started.toISOString(),
      durationSec,
      machine: machine(),
      cpuSplit: hasTaskset ? `servers on CPU ${SERVER_CPU}, load generator on CPU ${LOADGEN_CPU}` : "unpinned",
      options: {
        nodes: clusterNodes,
        runs,
        conversations,
        roomSize,
        kind,
        textBytes,
        ratePerSec,
        windowMs,
        warmupMs,
        idleMs,
        joinProbes,
        notifyConversations,
        notifyRate,
        notifyMs,
        leaseMs,
        store: storeKind,
      },
      summary: { one, many },
      runs: all,
    },
    null,
    2,
  ) + "\n",
);
writeFileSync(join(values.out, "scale.md"), report);
console.log(`\n${report}\nwritten: ${join(values.out, "scale.json")}, ${join(values.out, "scale.md")}`);
