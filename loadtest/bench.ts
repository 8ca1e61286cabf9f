/**
 * Benchmark: the same chat workload against each system in turn, within one run: the raw `ws` and
 * uWebSockets.js ceilings, Socket.IO and stock Colyseus 0.18 peers, and Parley with in-memory and
 * durable (FerretDB) history. Servers run on CPU 0, this load generator on CPU 1.
 *
 *   npm run bench                      # default: 1,000 clients, 100 conversations of 10, 3 runs
 *   npm run bench -- --quick           # smoke run: 1 run, short steps, few rates
 *   npm run bench -- --systems parley-memory,ws-ceiling --runs 1 --profile
 *
 * Results go to loadtest/results/ (latest.json, latest.md, latest.svg). Numbers are reported,
 * never asserted.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { commandLine, positiveList, type Command, type Option } from "../deploy/cli.ts";
import { DEFAULT_POSTGRES_URL, startFerretdbOnPostgres, startMongoWire, withDatabase } from "../deploy/services.ts";
import { summariseProfile, newestProfile } from "./profile-summary.ts";
import { PERF_NODE_ARGS, perfUnavailable, recordPerf, summarisePerf, type PerfRecording } from "./perf-profile.ts";
import { appendHistory, writeResults, type BenchRun, type SystemRuns } from "./report.ts";
import { hasTaskset, pinProcess } from "./server-process.ts";
import { listStoreProcesses, pidListeningOn, startSystem, SYSTEM_NAMES, systemsOption, type StoreProcesses, type SystemName } from "./systems.ts";
import type { SweepOptions } from "./sweep.ts";
import { sweepInChild } from "./sweep-process.ts";

const COMMAND = {
  usage: "npm run bench --",
  summary:
    "The same chat workload against each system in turn, in one run: raw ws and uWebSockets.js ceilings, Socket.IO and stock Colyseus peers, Parley in memory and durable. Servers on CPU 0, this load generator on CPU 1. Results go to --out.",
  options: {
    systems: {
      kind: "string",
      default: SYSTEM_NAMES.filter((name) => name !== "parley-memory-unfiltered").join(","),
      help: `comma-separated systems: ${SYSTEM_NAMES.join(", ")}; a Parley system may carry settings to compare side by side, e.g. parley-durable@GROUP_COMMIT_WINDOW_MS=10+GROUP_COMMIT_MAX_MESSAGES=1000; PARLEY_ROOT=<checkout> runs that checkout's server (a git worktree of an earlier commit, its node_modules linked), side by side with this one`,
    },
    runs: { kind: "integer", min: 1, help: "runs per system (default 3, 1 with --quick)" },
    rates: { kind: "string", help: "comma-separated send rates per second to step through (default 1000 to 20000)" },
    clients: { kind: "integer", default: 1000, min: 1, help: "clients seated" },
    "room-size": { kind: "integer", default: 10, min: 1, help: "members per conversation" },
    bytes: { kind: "integer", default: 100, min: 20, help: "bytes per message text" },
    "step-seconds": { kind: "number", min: 0.5, help: "seconds per rate step (default 4, 2 with --quick)" },
    "warmup-seconds": { kind: "number", min: 0, help: "seconds of warm-up before each sweep (default 15, 1 with --quick)" },
    quick: { kind: "boolean", help: "smoke run: 1 run, short steps, four rates" },
    profile: { kind: "boolean", help: "record a CPU profile of each server (node --cpu-prof) and summarise its measured steps" },
    perf: { kind: "boolean", help: "sample each server with Linux perf (kernel and native code included) and summarise its measured steps" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "folder for latest.json, latest.md, latest.svg" },
  },
  examples: [
    "npm run bench -- --quick",
    "npm run bench -- --systems parley-memory,ws-ceiling --runs 1 --rates 1000,2000,4000",
    "npm run bench -- --systems parley-durable,parley-durable@GROUP_COMMIT_WINDOW_MS=10 --rates 2000,4000",
  ],
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);

const quick = values.quick;
const systems = systemsOption(COMMAND, values.systems);
/** `list` begun at its `by`-th entry (modulo its length) and wrapped around. */
const rotated = <T>(list: readonly T[], by: number): T[] => [...list.slice(by % list.length), ...list.slice(0, by % list.length)];
const usesSystem = (name: SystemName) => systems.some((entry) => entry.name === name);
const runs = Number(values.runs ?? (quick ? 1 : 3));
const roomSize = Number(values["room-size"]);
const clients = Number(values.clients);
const DEFAULT_RATES = [1000, 2000, 3000, 4000, 6000, 8000, 11000, 15000, 20000];
const options: SweepOptions = {
  conversations: Math.ceil(clients / roomSize),
  membersPerConversation: roomSize,
  textBytes: Number(values.bytes),
  ratesPerSec: (values.rates !== undefined ? positiveList(COMMAND, "rates", values.rates) : quick ? [1000, 2000, 4000, 8000] : DEFAULT_RATES).sort((a, b) => a - b),
  // 15 s: in consecutive 4 s steps at 2,000 sent/s in one process, Parley's CPU per delivery fell
  // from 16.4 to about 13 µs over the first 12 s of load (its larger JavaScript path compiling) while
  // stock Colyseus's stayed flat; after 3 s the second step measured that transient (1.31x stock
  // against 1.09x after 15 s, docs/measurements.md).
  warmupMs: Number(values["warmup-seconds"] ?? (quick ? 1 : 15)) * 1000,
  stepMs: Number(values["step-seconds"] ?? (quick ? 2 : 4)) * 1000,
  drainMs: 2000,
  p99LimitMs: 100,
  minDeliveredRatio: 0.999,
};
const SERVER_CPU = 0;
const LOADGEN_CPU = 1;
pinProcess(process.pid, LOADGEN_CPU);

const profileDir = join(values.out, "profiles");
if (values.profile || values.perf) mkdirSync(profileDir, { recursive: true });
const noPerf = values.perf ? perfUnavailable() : undefined;
if (noPerf) console.log(`--perf: skipped: ${noPerf}`);
const withPerf = values.perf && !noPerf;
const mongo = usesSystem("parley-durable") ? await startMongoWire((line) => console.log(line)) : undefined;
const sqliteStorePid = mongo ? pidListeningOn(mongo.port) : undefined;
if (sqliteStorePid) pinProcess(sqliteStorePid, SERVER_CPU);
// FerretDB on the machine's PostgreSQL: its CPU is FerretDB's and that of PostgreSQL's backends for
// the run's database, listed (and pinned beside the servers) at every step.
const onPostgres = usesSystem("parley-durable-pg") ? await startFerretdbOnPostgres(undefined, (line) => console.log(line)) : undefined;
const postgres = onPostgres?.service;
const postgresFerretPid = postgres ? pidListeningOn(postgres.port) : undefined;
const storeFor = (name: SystemName): { mongoUrl?: string; store: StoreProcesses } => {
  const database = `parley_bench_${Date.now()}`;
  if (name === "parley-durable" && mongo) return { mongoUrl: withDatabase(mongo.url, database), store: { pids: sqliteStorePid ? [sqliteStorePid] : [] } };
  if (name === "parley-durable-pg" && postgres) {
    const pids = postgresFerretPid ? [postgresFerretPid] : [];
    const pg = { url: process.env.PARLEY_POSTGRES_URL ?? DEFAULT_POSTGRES_URL, database: postgres.postgresDatabase, pinCpu: SERVER_CPU };
    return { mongoUrl: withDatabase(postgres.url, database), store: { pids, postgres: pg } };
  }
  return { store: { pids: [] } };
};

let running: { stop(): Promise<void> } | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void Promise.allSettled([running?.stop(), mongo?.stop(), postgres?.stop()]).then(() => process.exit(130)));
}

const results = new Map<string, SystemRuns>(
  systems.map(({ label, name }) => [label, { name: label, runs: [], ...(name === "parley-durable-pg" && onPostgres?.reason ? { skipped: onPostgres.reason } : {}) }]),
);
if (onPostgres?.reason) console.log(`parley-durable-pg: skipped: ${onPostgres.reason}`);
const benchStarted = Date.now();
/** Write what was measured so far; called after every sweep, so an interrupted bench keeps its runs. */
const reportInput = () => ({
  systems: [...results.values()],
  options,
  runs,
  cpuSplit: hasTaskset ? `servers (and their stores) pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOADGEN_CPU} (taskset)` : "no taskset: processes unpinned",
  storeKind:
    [mongo && `parley-durable on ${mongo.kind === "mongod" ? "mongod" : "FerretDB on SQLite"}`, postgres && "parley-durable-pg on FerretDB on PostgreSQL"].filter(Boolean).join(", ") || undefined,
  durationSec: (Date.now() - benchStarted) / 1000,
});
const saveResults = () => writeResults(values.out, reportInput());
try {
  for (let run = 0; run < runs; run++) {
    // Each run starts one system later, and each sweep runs in a fresh load-generator process
    // (sweep-process.ts): in one shared process a system measured after others read up to 2.6 µs a
    // delivery dearer. The rotation stays so that what persists across systems (the stores, the
    // machine's caches) favours none of them.
    for (const { label, name, env } of rotated(systems, run)) {
      const entry = results.get(label)!;
      if (entry.skipped) continue;
      const { mongoUrl, store } = storeFor(name);
      let system: Awaited<ReturnType<typeof startSystem>>;
      try {
        system = await startSystem(name, {
          serverCpu: SERVER_CPU,
          mongoUrl,
          storePids: () => listStoreProcesses(store),
          parleyEnv: env,
          nodeArgs: [...(values.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []), ...(withPerf ? PERF_NODE_ARGS : [])],
        });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (!reason.startsWith("skipped:")) throw error;
        entry.skipped = reason.replace(/^skipped:\s*/, "");
        console.log(`${label}: skipped: ${entry.skipped}`);
        continue;
      }
      running = system.server;
      let lastSteps: Array<{ monotonicUs: [number, number] }> = [];
      const perf: PerfRecording | undefined = withPerf ? recordPerf(system.server.pid, join(profileDir, `${name}-run${run + 1}-${Date.now()}.perf.data`)) : undefined;
      try {
        const result = await sweepInChild({
          name,
          endpoint: system.server.endpoint,
          serverPid: system.server.pid,
          store,
          options: {
            ...options,
            onStep: (s) =>
              console.log(
                `run ${run + 1}/${runs} ${label.padEnd(14)} rate ${String(s.ratePerSec).padStart(5)}/s  deliveries ${s.deliveriesPerSec.toFixed(0).padStart(6)}/s  ` +
                  `p50 ${s.delivery.p50.toFixed(1)} p99 ${s.delivery.p99.toFixed(1)} ms  delivered ${(s.deliveredRatio * 100).toFixed(2)}%  ` +
                  `server CPU ${s.serverCpuPct.toFixed(0)}% (${s.serverCpuUsPerDelivery.toFixed(1)} µs/delivery${s.storeCpuUsPerDelivery > 0 ? `, store ${s.storeCpuUsPerDelivery.toFixed(1)}` : ""})  loadgen CPU ${s.loadgenCpuPct.toFixed(0)}%  other ${s.otherCpuPct.toFixed(0)}%${Object.keys(s.errors).length ? `  errors ${JSON.stringify(s.errors)}` : ""}${s.repeatedAfterNoise ? "  (repeated: neighbours busy)" : ""}${s.passed ? "" : "  (stop)"}`,
              ),
          },
        });
        entry.runs.push({ ...result, run: run + 1 } satisfies BenchRun);
        lastSteps = result.steps;
      } catch (error) {
        // One failed sweep (say, joins timing out while neighbours hog the CPU) costs one run, not the bench.
        const reason = error instanceof Error ? error.message : String(error);
        entry.failures = [...(entry.failures ?? []), `run ${run + 1}: ${reason}`];
        console.log(`run ${run + 1}/${runs} ${label}: failed: ${reason}`);
      } finally {
        await perf?.stop();
        await system.server.stop();
      }
      if (perf && lastSteps.length > 0) console.log(`${label} ${summarisePerf(perf.file, lastSteps[0]!.monotonicUs[0], lastSteps.at(-1)!.monotonicUs[1])}`);
      saveResults();
      if (values.profile) {
        const file = newestProfile(profileDir);
        // The measured steps only: start-up, joins and warm-up are not deliveries.
        if (file)
          console.log(
            `${name} profile ${file}\n${summariseProfile(
              file,
              20,
              lastSteps.map((step) => step.monotonicUs),
            )}`,
          );
      }
    }
  }
} finally {
  await mongo?.stop();
  await postgres?.stop();
}

const files = saveResults();
const history = appendHistory(values.out, reportInput());
console.log(`\n${files.markdown}\nwritten: ${[...files.paths, history].join(", ")}`);
