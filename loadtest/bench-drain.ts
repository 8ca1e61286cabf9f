/**
 * Benchmark (issue #15, a drain at scale): one node of a 3-node cluster, holding a third of many live
 * conversations (default 20,000 in all, one room and one seated client each), gets SIGTERM. Does it
 * hand every room over and exit within DRAIN_TIMEOUT_MS, and what does that cost Redis?
 *
 *   npm run bench:drain --                          # 20,000 conversations, DRAIN_TIMEOUT_MS 10 s
 *   npm run bench:drain -- --rooms 3000             # a short trial
 *   npm run bench:drain -- --env HANDOFF_CONCURRENCY=8
 *   npm run bench:drain -- --store ferretdb-pg      # history in FerretDB on the machine's PostgreSQL
 *
 * Filler children (loadtest/fillers.ts) create the conversations through the nodes round-robin and
 * hold their clients; those clients ignore `migrate` (a stock client that does not move), so each
 * old room stays until `handOffLingerMs` (a third of DRAIN_TIMEOUT_MS, ending a second before the
 * deadline) and the drain's end includes that linger. History is in memory by default (no
 * MONGO_URL): the hand-off machinery alone; with `--store ferretdb-pg` each new room also reads its
 * conversation's epoch from the store, as in production (FerretDB runs on CPU 1, PostgreSQL where
 * the machine runs it). While the node drains, its /metrics is read every 250 ms (hand-offs by
 * outcome and the pause histogram); Redis's INFO gives the commands during the drain against a steady window
 * of the same length before it. Nodes run on CPU 0, Redis and the load generator on CPU 1
 * (taskset). Numbers are reported, never asserted. Writes drain.json and drain.md to --out.
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { commandLine, failUsage, settingsList, type Command, type Option } from "../deploy/cli.ts";
import { startCluster } from "../deploy/cluster.ts";
import { sampleSum, scrape } from "../deploy/metrics-text.ts";
import { startFerretdbOnPostgres, startRedis } from "../deploy/services.ts";
import { readCounters, type RedisCounters } from "./cluster-redis-window.ts";
import { fillTo, startFiller, stopFillers, type Filler } from "./fillers.ts";
import { machineLine } from "./report.ts";
import { hasTaskset, pinProcess } from "./server-process.ts";
import { pidListeningOn } from "./systems.ts";

const COMMAND = {
  usage: "npm run bench:drain --",
  summary: "SIGTERM one node of a 3-node cluster holding many live conversations: drain time, hand-offs by outcome, the pause, and Redis commands per moved room.",
  options: {
    rooms: { kind: "integer", default: 20_000, min: 3, help: "live conversations over the 3 nodes (one room, one seated client each)" },
    "drain-timeout-ms": { kind: "integer", default: 10_000, min: 1000, help: "DRAIN_TIMEOUT_MS of the nodes (the server's default)" },
    env: { kind: "string", default: "", help: "extra node settings, NAME=value[,NAME=value]" },
    "rooms-per-filler": { kind: "integer", default: 5000, min: 1, help: "idle rooms each filler process holds" },
    concurrency: { kind: "integer", default: 16, min: 1, help: "joins in flight per filler while filling" },
    root: { kind: "string", default: "", help: "run the nodes from this checkout (a git worktree of an earlier commit, its node_modules linked), to compare side by side" },
    "node-logs": { kind: "string", default: "", help: "write every node's log lines to this file (with --env LOG_LEVEL=info, each hand-off's phases)" },
    store: { kind: "string", default: "memory", help: "history store of the nodes: memory, or ferretdb-pg (FerretDB on PostgreSQL at PARLEY_POSTGRES_URL)" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "results folder (drain.json, drain.md)" },
  },
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);
const rooms = Number(values.rooms);
const drainTimeoutMs = Number(values["drain-timeout-ms"]);
const extraEnv = settingsList(COMMAND, "env", values.env);
if (values.store !== "memory" && values.store !== "ferretdb-pg") failUsage(COMMAND, `--store: "${values.store}" is not memory or ferretdb-pg`);
const fill = { roomsPerFiller: Number(values["rooms-per-filler"]), concurrency: Number(values.concurrency) };
const say = (line: string) => console.log(`[bench-drain ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The quantile `q` of a Prometheus histogram's cumulative buckets, as the bucket's upper bound (seconds). */
function bucketQuantile(samples: Map<string, number>, name: string, q: number): number | undefined {
  const buckets = [...samples]
    .filter(([key]) => key.startsWith(`${name}_bucket{`))
    .map(([key, count]) => ({ le: Number(/le="([^"]+)"/.exec(key)?.[1]), count }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  return buckets.find((bucket) => bucket.count >= q * total)?.le;
}

const started = new Date();
// Before anything starts, so Redis and the fillers inherit CPU 1.
pinProcess(process.pid, 1);
const redisService = await startRedis();
const store = values.store === "ferretdb-pg" ? await startFerretdbOnPostgres(undefined, say) : undefined;
if (store && !store.service) {
  await redisService.stop();
  console.error(`bench:drain: --store ferretdb-pg: ${store.reason}`);
  process.exit(2);
}
const storeService = store?.service;
const storePid = storeService ? pidListeningOn(storeService.port) : undefined;
if (storePid !== undefined) pinProcess(storePid, 1);
const redis = new Redis(redisService.url);
const nodeLogs = values["node-logs"] ? createWriteStream(values["node-logs"]) : undefined;
const cluster = await startCluster({
  nodes: 3,
  onNodeLine: nodeLogs ? (name, line) => void nodeLogs.write(`[${name}] ${line}\n`) : undefined,
  redisUrl: redisService.url,
  mongoUrl: storeService?.url,
  root: values.root || undefined,
  env: {
    DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
    SEND_RATE_PER_SEC: "100000",
    SEND_BURST: "100000",
    REQUEST_RATE_PER_SEC: "100000",
    JOINS_PER_SEC_PER_IP: "100000",
    LOG_LEVEL: "warn",
    ...extraEnv,
  },
});
for (const node of cluster.nodes) if (node.child.pid !== undefined) pinProcess(node.child.pid, 0);
const fillers: Filler[] = [];
let result: Record<string, unknown> | undefined;
try {
  for (let f = 0; f < Math.ceil(rooms / fill.roomsPerFiller); f++) fillers.push(await startFiller());
  say(`filling ${rooms} conversations over ${cluster.nodes.length} nodes`);
  const filled = await fillTo(
    fillers,
    cluster.nodes.map((node) => node.httpUrl),
    0,
    rooms,
    new Map(),
    fill,
  );
  say(`${filled.rooms} rooms in ${filled.seconds.toFixed(1)} s (${filled.errors} errors${filled.firstError ? `, first: ${filled.firstError}` : ""})`);
  const victim = cluster.nodes[0]!;
  await sleep(3000);

  // Steady window: the same length as the drain may take, nothing running but the seated rooms.
  const steadyFrom = await readCounters(redis);
  await sleep(drainTimeoutMs);
  const steadyTo = await readCounters(redis);
  const steadyPerSec = ((steadyTo.commands - steadyFrom.commands) / (steadyTo.at - steadyFrom.at)) * 1000;

  const before = await scrape(victim.httpUrl);
  const victimRooms = sampleSum(before, "parley_node_rooms", 'room="chat"');
  say(`SIGTERM to ${victim.name}, which holds ${victimRooms} chat rooms`);
  let last = before;
  let reading = true;
  const counters: RedisCounters[] = [await readCounters(redis)];
  const poll = (async () => {
    while (reading) {
      await sleep(250);
      last = (await scrape(victim.httpUrl, { signal: AbortSignal.timeout(1000) }).catch(() => undefined)) ?? last;
      counters.push(await readCounters(redis));
    }
  })();
  const signalledAt = performance.now();
  victim.signal("SIGTERM");
  const exitCode = await Promise.race([victim.exited, sleep(drainTimeoutMs + 20_000).then(() => "did not exit" as const)]);
  const drainMs = performance.now() - signalledAt;
  reading = false;
  await poll;
  const end = await readCounters(redis);
  const commands = end.commands - counters[0]!.commands;
  const windowMs = end.at - counters[0]!.at;
  // The busiest second of the drain (INFO read every 250 ms: the highest rate over 4 readings).
  let peakPerSec = 0;
  for (let i = 4; i < counters.length; i++) peakPerSec = Math.max(peakPerSec, ((counters[i]!.commands - counters[i - 4]!.commands) / (counters[i]!.at - counters[i - 4]!.at)) * 1000);
  const outcome = (name: string) => sampleSum(last, "parley_handoffs_total", `outcome="${name}"`) - sampleSum(before, "parley_handoffs_total", `outcome="${name}"`);
  const handOffs = { replaced: outcome("replaced"), fallback: outcome("fallback"), empty: outcome("empty") };
  const moved = handOffs.replaced + handOffs.fallback + handOffs.empty;
  const others = await Promise.all(cluster.nodes.slice(1).map(async (node) => sampleSum(await scrape(node.httpUrl), "parley_node_rooms", 'room="chat"')));
  const perCommand = Object.entries(end.perCommand)
    .map(([name, calls]) => [name, calls - (counters[0]!.perCommand[name] ?? 0)] as const)
    .filter(([name, calls]) => name !== "info" && calls > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  result = {
    rooms,
    store: values.store,
    filled,
    victimRooms,
    drainTimeoutMs,
    extraEnv,
    exitCode,
    drainMs: Math.round(drainMs),
    handOffs,
    handOffsSeen: moved,
    pauseP50Ms: (bucketQuantile(last, "parley_handoff_pause_seconds", 0.5) ?? Number.NaN) * 1000,
    pauseP99Ms: (bucketQuantile(last, "parley_handoff_pause_seconds", 0.99) ?? Number.NaN) * 1000,
    roomsOnOtherNodesAfter: others,
    redis: {
      steadyCommandsPerSec: Math.round(steadyPerSec),
      drainCommands: commands,
      drainCommandsPerSec: Math.round((commands / windowMs) * 1000),
      peakCommandsPerSec: Math.round(peakPerSec),
      commandsAboveSteadyPerMovedRoom: moved > 0 ? Number(((commands - (steadyPerSec * windowMs) / 1000) / moved).toFixed(1)) : Number.NaN,
      topCommands: Object.fromEntries(perCommand),
    },
  };
  say(JSON.stringify(result));
} finally {
  await stopFillers(fillers);
  await cluster.stop();
  redis.disconnect();
  await redisService.stop();
  await storeService?.stop();
  nodeLogs?.end();
}

const r = result as {
  victimRooms: number;
  exitCode: number | string | null;
  drainMs: number;
  handOffs: Record<string, number>;
  pauseP50Ms: number;
  pauseP99Ms: number;
  roomsOnOtherNodesAfter: number[];
  redis: Record<string, unknown>;
};
const report = [
  "# Drain at scale (issue #15)",
  "",
  `Run ${started.toISOString()} by \`npm run bench:drain -- --rooms ${rooms}${values.store === "memory" ? "" : ` --store ${values.store}`}${values.root ? ` --root ${values.root}` : ""}${values.env ? ` --env ${values.env}` : ""}\` (loadtest/bench-drain.ts). Numbers are reported, never asserted.`,
  "",
  `- Machine: ${machineLine()}; ${hasTaskset ? `3 nodes on CPU 0; Redis, ${storeService ? "FerretDB, " : ""}the bench and its fillers on CPU 1 (taskset)${storeService ? "; PostgreSQL unpinned" : ""}` : "no taskset: unpinned"}.`,
  `- Workload: ${rooms} \`channel:\` conversations over 3 nodes (ROLE=all, history ${values.store === "memory" ? "in memory" : "in FerretDB on PostgreSQL"}), one seated client each (stock SDK clients that ignore \`migrate\`); node 1 of 3 gets SIGTERM with DRAIN_TIMEOUT_MS=${drainTimeoutMs}${Object.keys(extraEnv).length > 0 ? ` and ${JSON.stringify(extraEnv)}` : ""}.`,
  "",
  "| figure | value |",
  "|---|---|",
  `| chat rooms on the drained node | ${r.victimRooms} |`,
  `| exit code, SIGTERM to exit | ${r.exitCode}, ${(r.drainMs / 1000).toFixed(1)} s (DRAIN_TIMEOUT_MS ${drainTimeoutMs / 1000} s; rooms linger up to ${Math.max(1, drainTimeoutMs / 3000).toFixed(1)} s for clients that do not move, ending a second before the deadline) |`,
  `| hand-offs: replaced / fallback / empty | ${r.handOffs.replaced} / ${r.handOffs.fallback} / ${r.handOffs.empty} |`,
  `| pause (sends refused), p50 / p99 (histogram bucket bounds) | ${r.pauseP50Ms} / ${r.pauseP99Ms} ms |`,
  `| chat rooms on the other nodes after | ${r.roomsOnOtherNodesAfter.join(", ")} |`,
  `| Redis commands/s: steady, drain average, drain peak (1 s) | ${r.redis.steadyCommandsPerSec}, ${r.redis.drainCommandsPerSec}, ${r.redis.peakCommandsPerSec} |`,
  `| Redis commands above steady per moved room | ${r.redis.commandsAboveSteadyPerMovedRoom} |`,
  `| top commands during the drain | ${JSON.stringify(r.redis.topCommands)} |`,
  "",
].join("\n");
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "drain.json"), `${JSON.stringify({ startedAt: started.toISOString(), machine: machineLine(), result }, null, 2)}\n`);
writeFileSync(join(values.out, "drain.md"), report);
console.log(`\n${report}`);
process.exit(0);
