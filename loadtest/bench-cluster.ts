/**
 * Benchmark (issue #4): what a join and a delivered message cost a 3-node cluster as the number of
 * live conversations grows, for Parley's routing (ROUTING=leases) and Colyseus's stock RedisDriver
 * (ROUTING=stock, which reads every listing per lookup), side by side in one run.
 *
 *   npm run bench:cluster -- [--levels 100,20000] [--probes 200] [--stock-probes 100] [--messages 300] [--root <checkout>]
 *
 * For each routing and each level: fill the cluster with background conversations (one room and one
 * seated client each, created through the nodes round-robin by filler children), measure the
 * steady-state Redis command rate (a window with nothing running), then measure sequential probe
 * joins (new conversations, then existing ones) and sends in channel and dm conversations. Redis
 * costs come from Redis's own INFO, net of an idle window of equal length: the background (one node
 * lease renewal per node every ROOM_LEASE_MS/4, whatever the number of rooms) is a steady rate it
 * cancels.
 * Nodes run on CPU 0, Redis and the load generator on CPU 1 (taskset). Numbers are reported, never
 * asserted. Writes loadtest/results/cluster.json and cluster.md.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { commandLine, failUsage, positiveList, settingsList, type Command, type Option } from "../deploy/cli.ts";
import { Client, type Room } from "@colyseus/sdk";
import { Redis } from "ioredis";
import { startCluster, type Cluster } from "../deploy/cluster.ts";
import { startRedis } from "../deploy/services.ts";
import { waitFor } from "../deploy/wait-for.ts";
import { fillTo as fillWith, startFiller, stopFillers, type Filler } from "./fillers.ts";
import { measureIdle, measureWindow, type MeasuredWindow, type WindowCost } from "./cluster-redis-window.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const COMMAND = {
  usage: "npm run bench:cluster --",
  summary: "Join latency and Redis commands and bytes per join and per delivery on a 3-node cluster, at few and at many live conversations, with leases against stock routing.",
  options: {
    levels: { kind: "string", default: "100,20000", help: "comma-separated numbers of live conversations" },
    modes: { kind: "string", default: "leases,stock", help: "comma-separated routing modes: leases, stock" },
    probes: { kind: "integer", default: 200, min: 1, help: "joins of new conversations measured per level" },
    "stock-probes": { kind: "integer", default: 100, min: 1, help: "the same for stock routing" },
    messages: { kind: "integer", default: 300, min: 1, help: "messages sent per window" },
    "lease-ms": { kind: "integer", default: 1500, min: 300, help: "ROOM_LEASE_MS of the nodes (the server's default); each node renews its one lease every quarter of it" },
    "steady-ms": { kind: "integer", default: 10000, min: 1000, help: "length of the steady-state window per level (background rooms seated, nothing else running)" },
    "rooms-per-filler": { kind: "integer", default: 5000, min: 1, help: "idle rooms each filler process holds" },
    concurrency: { kind: "integer", default: 16, min: 1, help: "joins in flight while filling" },
    out: { kind: "string", default: join(HERE, "results"), help: "results folder (cluster.json, cluster.md)" },
    root: { kind: "string", default: "", help: "run the nodes from this checkout (a git worktree of an earlier commit, its node_modules linked), to compare side by side" },
    env: { kind: "string", default: "", help: "extra node settings, NAME=value[,NAME=value] (NODE_OPTIONS=--import=<file> loads a module into every node, to trace it)" },
    "probe-log": {
      kind: "string",
      default: "",
      help: "append each probe join to this file: start (ms since the epoch), latency ms, node index, conversation; to lay the slow ones beside a node's own trace",
    },
  },
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);
const levels = positiveList(COMMAND, "levels", values.levels);
const modes = values.modes.split(",") as Array<"leases" | "stock">;
for (const mode of modes) if (mode !== "leases" && mode !== "stock") failUsage(COMMAND, `--modes: unknown mode "${mode}"; leases or stock`);
const probes = Number(values.probes);
const stockProbes = Number(values["stock-probes"]);
const messages = Number(values.messages);
const leaseMs = Number(values["lease-ms"]);
const steadyMs = Number(values["steady-ms"]);
const roomsPerFiller = Number(values["rooms-per-filler"]);
const fillConcurrency = Number(values.concurrency);
const extraEnv = settingsList(COMMAND, "env", values.env);
const probeLog = values["probe-log"] || undefined;
const CHANNEL = { conversations: 10, members: 10 };
const DM = { conversations: 30, members: 2 };
const WARMUP_JOINS = 20;

const say = (line: string) => console.log(`[bench-cluster ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const hasTaskset = spawnSync("sh", ["-c", "command -v taskset"]).status === 0;
function pin(pid: number | undefined, cpu: number): void {
  if (hasTaskset && pid !== undefined) spawnSync("taskset", ["-a", "-p", "-c", String(cpu), String(pid)], { stdio: "ignore" });
}
// Before anything starts, so Redis and the fillers inherit CPU 1.
pin(process.pid, 1);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

// --- probes ----------------------------------------------------------------------------------------

type JoinResult = { latenciesMs: number[]; rooms: Room[]; errors: number; firstError?: string };

/** Sequential joinOrCreate through the nodes round-robin; latency is until the client is seated. */
async function probeJoins(clients: Client[], targets: Array<{ conversationId: string; userId: string }>): Promise<JoinResult> {
  const result: JoinResult = { latenciesMs: [], rooms: [], errors: 0 };
  for (const [i, target] of targets.entries()) {
    const started = performance.now();
    try {
      const room = await clients[i % clients.length]!.joinOrCreate("chat", target);
      result.latenciesMs.push(performance.now() - started);
      if (probeLog) appendFileSync(probeLog, `${(performance.timeOrigin + started).toFixed(1)} ${(performance.now() - started).toFixed(1)} ${i % clients.length} ${target.conversationId}\n`);
      room.onMessage("*", () => {});
      result.rooms.push(room);
    } catch (error) {
      result.errors++;
      result.firstError ??= error instanceof Error ? error.message : String(error);
    }
  }
  return result;
}

async function leaveAll(rooms: Room[]): Promise<void> {
  for (let i = 0; i < rooms.length; i += 100) await Promise.all(rooms.slice(i, i + 100).map((room) => room.leave().catch(() => undefined)));
}

type Metric = {
  count: number;
  errors: number;
  p50Ms?: number;
  p99Ms?: number;
  commandsPer: number;
  inputBytesPer: number;
  outputBytesPer: number;
  /** Net commands per unit by command name (Lua-internal commands included), largest first. */
  topCommandsPer: Record<string, number>;
  idleCommandsPerSec: number;
  windowMs: number;
  /** Message windows only: net commands per message sent. */
  commandsPerMessage?: number;
  note?: string;
};

function metricOf(window: MeasuredWindow, count: number, errors: number, latenciesMs?: number[], note?: string): Metric {
  const sorted = latenciesMs ? [...latenciesMs].sort((a, b) => a - b) : undefined;
  const per = (value: number) => (count > 0 ? value / count : Number.NaN);
  const top = Object.entries(window.net.perCommand)
    .filter(([name]) => name !== "info")
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, 6)
    .map(([name, calls]) => [name, Number(per(calls).toFixed(3))]);
  return {
    count,
    errors,
    ...(sorted && { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) }),
    commandsPer: per(window.net.commands),
    inputBytesPer: per(window.net.inputBytes),
    outputBytesPer: per(window.net.outputBytes),
    topCommandsPer: Object.fromEntries(top),
    idleCommandsPerSec: (window.idle.commands / window.idle.ms) * 1000,
    windowMs: window.raw.ms,
    ...(note && { note }),
  };
}

// --- messages --------------------------------------------------------------------------------------

/** Seat members of `kind` conversations through the nodes round-robin, then measure M sends and their deliveries. */
async function messageCost(redis: Redis, clients: Client[], kind: "channel" | "dm", tag: string): Promise<Metric> {
  const shape = kind === "channel" ? CHANNEL : DM;
  const conversations: Array<{ members: Room[] }> = [];
  let delivered = 0;
  for (let c = 0; c < shape.conversations; c++) {
    const users = Array.from({ length: shape.members }, (_, j) => `${kind[0]}${tag}c${c}u${j}`).sort();
    const conversationId = kind === "channel" ? `channel:msg${tag}c${c}` : `dm:${users[0]}:${users[1]}`;
    const members: Room[] = [];
    for (const [j, userId] of users.entries()) {
      const room = await clients[(c + j) % clients.length]!.joinOrCreate("chat", { conversationId, userId });
      room.onMessage("*", () => {});
      room.onMessage("message", () => delivered++);
      members.push(room);
    }
    conversations.push({ members });
  }
  await sleep(1000);
  const expected = messages * shape.members;
  let errors = 0;
  const window = await measureWindow(
    redis,
    async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < messages) {
            const k = next++;
            const { members } = conversations[k % conversations.length]!;
            const sender = members[Math.floor(k / conversations.length) % members.length]!;
            try {
              await sender.request("send", { clientMsgId: `${tag}m${k}`, text: "x".repeat(100) }, { timeout: 15_000 });
            } catch {
              errors++;
            }
          }
        }),
      );
      await waitFor(() => delivered >= expected - errors * shape.members, { timeoutMs: 30_000, intervalMs: 5, what: `${expected} deliveries` }).catch(() => undefined);
    },
    () => leaveAll(conversations.flatMap(({ members }) => members)),
  );
  const metric = metricOf(window, delivered, errors, undefined, `${messages} messages, ${shape.conversations} ${kind} conversations x ${shape.members} members seated through different nodes`);
  return { ...metric, commandsPerMessage: window.net.commands / messages };
}

// --- one routing mode ------------------------------------------------------------------------------

/** The steady-state Redis command rate: nothing running but the seated background conversations. */
type SteadyState = {
  windowMs: number;
  /** Listings in Redis when the window began (the background rooms, once rooms left earlier are gone). */
  listings: number;
  /** All nodes together; the window's own INFO call excluded. */
  commandsPerSec: number;
  commandsPerSecPerNode: number;
  inputBytesPerSec: number;
  outputBytesPerSec: number;
  /** By command name (Lua-internal commands included), largest first. */
  topCommandsPerSec: Record<string, number>;
};

function steadyStateOf(window: WindowCost, listings: number, nodes: number): SteadyState {
  const perSec = (value: number) => (value / window.ms) * 1000;
  const top = Object.entries(window.perCommand)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([name, calls]) => [name, Number(perSec(calls).toFixed(2))]);
  return {
    windowMs: window.ms,
    listings,
    commandsPerSec: perSec(window.commands),
    commandsPerSecPerNode: perSec(window.commands) / nodes,
    inputBytesPerSec: perSec(window.inputBytes),
    outputBytesPerSec: perSec(window.outputBytes),
    topCommandsPerSec: Object.fromEntries(top),
  };
}

type LevelResult = {
  liveConversations: number;
  fill: Awaited<ReturnType<typeof fillWith>> & { totalRooms: number };
  steady: SteadyState;
  newJoins: Metric;
  existingJoins: Metric & { joinedTheExistingRoom: number };
  channelMessages: Metric;
  dmMessages: Metric;
};

function nodeWarnings(cluster: Cluster): Record<string, number> {
  const byMessage: Record<string, number> = {};
  for (const node of cluster.nodes) {
    for (const line of node.output().split("\n")) {
      if (!/"level":(40|50|60)/.test(line) || line.includes("embeddedDefault")) continue;
      const msg = (JSON.parse(line) as { msg: string }).msg;
      byMessage[msg] = (byMessage[msg] ?? 0) + 1;
    }
  }
  return byMessage;
}

async function runMode(redisUrl: string, redis: Redis, mode: "leases" | "stock") {
  await redis.flushall();
  const cluster = await startCluster({
    root: values.root || undefined,
    nodes: 3,
    redisUrl,
    env: {
      ROUTING: mode,
      ROOM_LEASE_MS: String(leaseMs),
      SEND_RATE_PER_SEC: "100000",
      SEND_BURST: "100000",
      REQUEST_RATE_PER_SEC: "100000",
      LOG_LEVEL: "warn",
      ...extraEnv,
    },
  });
  for (const node of cluster.nodes) pin(node.child.pid, 0);
  const nodeUrls = cluster.nodes.map((node) => node.httpUrl);
  const clients = nodeUrls.map((url) => new Client(url));
  const fillers: Filler[] = [];
  const results: LevelResult[] = [];
  const roomIds = new Map<number, string>();
  let filled = 0;
  try {
    const fillerCount = Math.ceil(Math.max(...levels) / roomsPerFiller);
    for (let f = 0; f < fillerCount; f++) fillers.push(await startFiller());
    for (const level of levels) {
      say(`${mode}: filling to ${level} live conversations`);
      const fill = await fillWith(fillers, nodeUrls, filled, level, roomIds, { roomsPerFiller, concurrency: fillConcurrency });
      filled = level;
      const totalRooms = await redis.hlen("roomcaches");
      say(`${mode}: ${fill.rooms} rooms in ${fill.seconds.toFixed(1)} s (${fill.errors} errors${fill.firstError ? `, first: ${fill.firstError}` : ""}); ${totalRooms} listings in Redis`);
      await sleep(3000);

      // Steady state: only the background rooms, once the rooms the previous level left are disposed
      // (ROOM_IDLE_MS after their last client left), so their disposal does not fall into the window.
      await waitFor(async () => (await redis.hlen("roomcaches")) <= roomIds.size, { timeoutMs: 60_000, intervalMs: 500, what: "rooms left earlier to be disposed" }).catch(() => undefined);
      const listings = await redis.hlen("roomcaches");
      const steady = steadyStateOf(await measureIdle(redis, steadyMs), listings, cluster.nodes.length);
      say(
        `${mode} @${level}: steady state ${steady.commandsPerSec.toFixed(1)} Redis commands/s (${steady.commandsPerSecPerNode.toFixed(1)} per node) over ${(steady.windowMs / 1000).toFixed(1)} s, ${listings} listings`,
      );

      const count = mode === "stock" && level === Math.max(...levels) ? stockProbes : probes;
      const tag = `${mode[0]}${level}`;
      let joined: JoinResult = { latenciesMs: [], rooms: [], errors: 0 };

      // Unmeasured warm-up (JIT, connection pools), new and existing conversations alike.
      const warmup = await probeJoins(clients, [
        ...Array.from({ length: WARMUP_JOINS }, (_, i) => ({ conversationId: `channel:warm${tag}p${i}`, userId: `pw${i}` })),
        ...Array.from({ length: WARMUP_JOINS }, (_, i) => ({ conversationId: `channel:bg${Math.floor(((i + 0.5) * level) / WARMUP_JOINS)}`, userId: `pw${i}` })),
      ]);
      await leaveAll(warmup.rooms);
      await sleep(1000);

      const newTargets = Array.from({ length: count }, (_, i) => ({ conversationId: `channel:new${tag}p${i}`, userId: `pn${i}` }));
      const newWindow = await measureWindow(
        redis,
        async () => void (joined = await probeJoins(clients, newTargets)),
        () => leaveAll(joined.rooms),
      );
      const newJoins = metricOf(newWindow, joined.latenciesMs.length, joined.errors, joined.latenciesMs, joined.firstError);
      say(
        `${mode} @${level}: new joins p50 ${newJoins.p50Ms?.toFixed(1)} ms p99 ${newJoins.p99Ms?.toFixed(1)} ms, ${newJoins.commandsPer.toFixed(1)} commands, ${(newJoins.outputBytesPer / 1024).toFixed(1)} KiB out per join`,
      );

      const existing = Array.from({ length: count }, (_, i) => Math.floor((i * level) / count)).filter((index) => roomIds.has(index));
      const existingTargets = existing.map((index, i) => ({ conversationId: `channel:bg${index}`, userId: `pe${i}` }));
      let sameRoom = 0;
      const existingWindow = await measureWindow(
        redis,
        async () => void (joined = await probeJoins(clients, existingTargets)),
        async () => {
          sameRoom = joined.rooms.filter((room, i) => room.roomId === roomIds.get(existing[i]!)).length;
          await leaveAll(joined.rooms);
        },
      );
      const existingJoins = { ...metricOf(existingWindow, joined.latenciesMs.length, joined.errors, joined.latenciesMs, joined.firstError), joinedTheExistingRoom: sameRoom };
      say(
        `${mode} @${level}: existing joins p50 ${existingJoins.p50Ms?.toFixed(1)} ms p99 ${existingJoins.p99Ms?.toFixed(1)} ms, ${existingJoins.commandsPer.toFixed(1)} commands per join; ${sameRoom}/${existingTargets.length} in the existing room`,
      );

      const channelMessages = await messageCost(redis, clients, "channel", tag);
      const dmMessages = await messageCost(redis, clients, "dm", tag);
      say(`${mode} @${level}: ${channelMessages.commandsPer.toFixed(3)} commands per channel delivery, ${dmMessages.commandsPer.toFixed(3)} per dm delivery`);
      results.push({ liveConversations: level, fill: { ...fill, totalRooms }, steady, newJoins, existingJoins, channelMessages, dmMessages });
    }
  } finally {
    say(`${mode}: stopping`);
    await stopFillers(fillers);
    await cluster.stop();
  }
  return { mode, levels: results, nodeWarnings: nodeWarnings(cluster) };
}

// --- report ----------------------------------------------------------------------------------------

type ModeResult = Awaited<ReturnType<typeof runMode>>;

const fmt = (value: number | undefined, digits = 1) => (value === undefined || Number.isNaN(value) ? "n/a" : value.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? "n/a" : `${(a / b).toFixed(2)}x`);

function table(all: ModeResult[]): string[] {
  const low = Math.min(...levels);
  const high = Math.max(...levels);
  const rows: Array<[string, (level: LevelResult) => number | undefined, number]> = [
    ["new-conversation join p50 (ms)", (l) => l.newJoins.p50Ms, 1],
    ["new-conversation join p99 (ms)", (l) => l.newJoins.p99Ms, 1],
    ["new-conversation join: Redis commands", (l) => l.newJoins.commandsPer, 1],
    ["new-conversation join: bytes into Redis", (l) => l.newJoins.inputBytesPer, 0],
    ["new-conversation join: bytes out of Redis", (l) => l.newJoins.outputBytesPer, 0],
    ["existing-conversation join p50 (ms)", (l) => l.existingJoins.p50Ms, 1],
    ["existing-conversation join p99 (ms)", (l) => l.existingJoins.p99Ms, 1],
    ["existing-conversation join: Redis commands", (l) => l.existingJoins.commandsPer, 1],
    ["existing-conversation join: bytes into Redis", (l) => l.existingJoins.inputBytesPer, 0],
    ["existing-conversation join: bytes out of Redis", (l) => l.existingJoins.outputBytesPer, 0],
    ["channel: Redis commands per delivery", (l) => l.channelMessages.commandsPer, 3],
    ["dm: Redis commands per delivery", (l) => l.dmMessages.commandsPer, 3],
    ["idle Redis commands/s (idle window after the new joins)", (l) => l.newJoins.idleCommandsPerSec, 1],
  ];
  const get = (mode: string, level: number) => all.find((m) => m.mode === mode)?.levels.find((l) => l.liveConversations === level);
  const lines = [
    `| metric (per join / per delivery) | leases @${low} | leases @${high} | leases ${high}/${low} | stock @${low} | stock @${high} | stock ${high}/${low} | stock/leases @${low} | stock/leases @${high} |`,
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [label, pick, digits] of rows) {
    const cells = (mode: string) => {
      const a = get(mode, low);
      const b = get(mode, high);
      const va = a && pick(a);
      const vb = b && pick(b);
      return [fmt(va, digits), fmt(vb, digits), ratio(vb, va)];
    };
    const versus = (level: number) => {
      const leases = get("leases", level);
      const stock = get("stock", level);
      return ratio(stock && pick(stock), leases && pick(leases));
    };
    lines.push(`| ${label} | ${[...cells("leases"), ...cells("stock"), versus(low), versus(high)].join(" | ")} |`);
  }
  return lines;
}

/**
 * The issue's two flatness criteria, per routing and level: the steady-state Redis command rate and
 * the latency of the first join of a new conversation, with the ratio of the highest level to the lowest.
 */
function headline(all: ModeResult[]): string[] {
  const low = Math.min(...levels);
  const high = Math.max(...levels);
  const lines = [
    "| routing | live conversations | steady-state Redis commands/s (all nodes) | per node | new-conversation join p50 (ms) | new-conversation join p99 (ms) |",
    "|---|---|---|---|---|---|",
  ];
  for (const mode of all) {
    for (const l of mode.levels) {
      lines.push(`| ${mode.mode} | ${l.liveConversations} | ${fmt(l.steady.commandsPerSec)} | ${fmt(l.steady.commandsPerSecPerNode)} | ${fmt(l.newJoins.p50Ms)} | ${fmt(l.newJoins.p99Ms)} |`);
    }
    const a = mode.levels.find((l) => l.liveConversations === low);
    const b = mode.levels.find((l) => l.liveConversations === high);
    lines.push(
      `| ${mode.mode} | **${high}/${low}** | **${ratio(b?.steady.commandsPerSec, a?.steady.commandsPerSec)}** | ${ratio(b?.steady.commandsPerSecPerNode, a?.steady.commandsPerSecPerNode)} | **${ratio(b?.newJoins.p50Ms, a?.newJoins.p50Ms)}** | **${ratio(b?.newJoins.p99Ms, a?.newJoins.p99Ms)}** |`,
    );
  }
  return lines;
}

function machine() {
  const lscpu = spawnSync("lscpu", [], { encoding: "utf8" }).stdout ?? "";
  const model = /^Model name:\s*(.+)$/m.exec(lscpu)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  const redisVersion = /v=(\S+)/.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout ?? "")?.[1];
  return {
    cpuModel: model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    redis: redisVersion,
    cpuSplit: hasTaskset
      ? "3 nodes pinned to CPU 0; Redis, the bench process and its filler children pinned to CPU 1 (taskset -a). Nodes and load generator share the machine's 2 cores."
      : "no taskset: nodes, Redis and load generator share the 2 cores unpinned",
  };
}

function markdown(all: ModeResult[], meta: ReturnType<typeof machine>, started: Date): string {
  const high = Math.max(...levels);
  const renewEveryMs = Math.max(50, Math.floor(leaseMs / 4));
  const renewalsPerSec = 1000 / renewEveryMs;
  const lines = [
    "# Cluster routing benchmark (issue #4)",
    "",
    `Run ${started.toISOString()} by \`npm run bench:cluster${values.root ? ` -- --root ${values.root}` : ""}\` (loadtest/bench-cluster.ts). Numbers are reported, never asserted.`,
    "",
    "## Machine",
    "",
    `- CPU: ${meta.cpuModel}, ${meta.cores} cores, ${meta.memoryGiB} GiB; Node ${meta.node}; Redis ${meta.redis}`,
    `- CPU split: ${meta.cpuSplit}`,
    "",
    "## Workload",
    "",
    `- 3 nodes (ROLE=all) from deploy/cluster.ts against one redis-server; history in memory (no MONGO_URL); ROOM_LEASE_MS=${leaseMs}; rate limits raised to 100000.`,
    `- Live conversations: ${levels.join(" and ")} background \`channel:\` rooms, each with one seated client, created through the nodes round-robin with \`create\` (${fillConcurrency} in flight per filler process, at most ${roomsPerFiller} sockets per filler).`,
    `- Probe joins (after ${WARMUP_JOINS} + ${WARMUP_JOINS} unmeasured warm-up joins per level): ${probes} sequential \`joinOrCreate\` of new conversations, then ${probes} into existing background conversations (spread evenly over them), through the nodes round-robin (stock @${high}: ${stockProbes} each). Latency is client-side, until seated.`,
    `- Messages: ${messages} sends (100-byte text, 10 in flight) into ${CHANNEL.conversations} channel conversations of ${CHANNEL.members} members, and into ${DM.conversations} dm conversations of 2 members; members joined through different nodes. A delivery is one \`message\` received by one seated client (the sender included).`,
    "- Redis costs come from Redis's INFO (total_commands_processed, total_net_input_bytes, total_net_output_bytes, commandstats) around each window, minus an idle window of equal length measured right after it (cleanup in between). `total_commands_processed` counts commands run inside Lua scripts too.",
    `- Lease renewals (leases routing; stock keeps no leases): one node lease per node, not per room. Every ROOM_LEASE_MS/4 (${renewEveryMs} ms here) each node sends one pipeline of 3 commands (EVALSHA parleyRenewNode, SET parley:host:<pid> PX, SADD parley:hosts): ${fmt(3 * renewalsPerSec)} commands/s per node${leaseMs === 1500 ? "" : " (about 8 at the default 1.5 s lease)"}, counted by INFO as ${fmt(5 * renewalsPerSec)}/s (the script's GET and PEXPIRE too), ${fmt(5 * renewalsPerSec * 3)}/s for the 3 nodes, whatever the number of rooms. That steady background is what the steady-state rows measure: a ${steadyMs / 1000} s window per level with the background conversations seated and nothing else running, once the rooms left earlier are disposed. The idle window after each measured window cancels it. (A node that finds its lease lapsed claims each of its rooms' routes again, one script per room; that shows in the node warnings.)`,
    "",
    "## Results",
    "",
    "### Steady-state Redis load and new-conversation joins, against the number of live conversations",
    "",
    ...headline(all),
    "",
    "### All metrics",
    "",
    ...table(all),
    "",
  ];
  for (const mode of all) {
    for (const level of mode.levels) {
      lines.push(
        `- ${mode.mode} @${level.liveConversations}: fill ${level.fill.rooms} rooms in ${level.fill.seconds.toFixed(1)} s (${level.fill.errors} errors; ${level.fill.totalRooms} listings in Redis); ` +
          `join errors new ${level.newJoins.errors}, existing ${level.existingJoins.errors}; existing joins landing in the existing room ${level.existingJoins.joinedTheExistingRoom}/${level.existingJoins.count}; ` +
          `top commands per new join ${JSON.stringify(level.newJoins.topCommandsPer)}, per existing join ${JSON.stringify(level.existingJoins.topCommandsPer)}; ` +
          `steady state over ${(level.steady.windowMs / 1000).toFixed(1)} s with ${level.steady.listings} listings: ${fmt(level.steady.commandsPerSec)} commands/s, ${fmt(level.steady.inputBytesPerSec, 0)} B/s in, ${fmt(level.steady.outputBytesPerSec, 0)} B/s out, top commands/s ${JSON.stringify(level.steady.topCommandsPerSec)}`,
      );
    }
    if (Object.keys(mode.nodeWarnings).length > 0) lines.push(`- ${mode.mode} node warnings: ${JSON.stringify(mode.nodeWarnings)}`);
  }
  return lines.join("\n") + "\n";
}

// --- main ------------------------------------------------------------------------------------------

const started = new Date();
const redisService = await startRedis();
const redis = new Redis(redisService.url);
const all: ModeResult[] = [];
const stopEverything = async () => {
  redis.disconnect();
  await redisService.stop();
};
process.once("SIGINT", () => void stopEverything().then(() => process.exit(130)));
process.once("SIGTERM", () => void stopEverything().then(() => process.exit(143)));
try {
  for (const mode of modes) all.push(await runMode(redisService.url, redis, mode));
} finally {
  await stopEverything();
}

const meta = machine();
const report = markdown(all, meta, started);
mkdirSync(values.out, { recursive: true });
writeFileSync(
  join(values.out, "cluster.json"),
  JSON.stringify(
    { startedAt: started.toISOString(), machine: meta, options: { levels, probes, stockProbes, messages, leaseMs, steadyMs, roomsPerFiller, fillConcurrency, channel: CHANNEL, dm: DM }, modes: all },
    null,
    2,
  ) + "\n",
);
writeFileSync(join(values.out, "cluster.md"), report);
console.log(`\n${report}`);
