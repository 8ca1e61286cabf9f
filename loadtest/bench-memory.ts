/**
 * Benchmark: memory at rest. What 1,000 idle connections and one idle room cost in server RSS,
 * Parley against stock Colyseus 0.18 (and optionally the other systems of bench.ts), in one run.
 *
 *   npm run bench:memory                  # default: 1,000 clients, colyseus-stock and parley-memory, 3 runs
 *   npm run bench:memory -- --runs 1
 *   npm run bench:memory -- --systems colyseus-stock,parley-memory,socketio,ws-ceiling --gc
 *
 * Each run, each system is measured twice, each time in a fresh server process pinned to CPU 0
 * (this load generator runs on CPU 1): A) N clients in N / room-size conversations, B) the same N
 * clients in N conversations of 1. Once the server listens and its RSS has settled, its baseline
 * is read; the clients are seated and left idle, and once RSS has settled again it is read once
 * more. Two phases with different rooms and the same connections separate the two costs:
 *
 *   RSS_A - base_A = N * perConnection + (N / size) * perRoom
 *   RSS_B - base_B = N * perConnection +  N         * perRoom
 *
 * RSS is read from /proc/<pid>/status (VmRSS) as it is, garbage included; with --gc the bench also
 * collects garbage in the server through the V8 inspector before each reading and reports the heap
 * used beside RSS. Results go to --out (memory.json, memory.md); the median of the runs is
 * reported. Numbers are reported, never asserted.
 *
 * CPU at rest is solved the same way: after each RSS reading, the server's CPU time (/proc, 10 ms
 * ticks) over --cpu-seconds with nothing sent, so a timer per room or per connection shows up as
 * milliseconds of CPU a second per 1,000 rooms or connections.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { commandLine, failUsage, type Command, type Option } from "../deploy/cli.ts";
import { waitFor } from "../deploy/wait-for.ts";
import { hasTaskset, pinProcess, type ServerProcess } from "./server-process.ts";
import { cell, machineLine, median, round } from "./report.ts";
import { cpuMicros } from "./server-process.ts";
import { closeMembers, seatMembers } from "./sweep.ts";
import { startSystem, SYSTEM_NAMES, systemsOption, type SystemEntry } from "./systems.ts";
import type { MemberEvents } from "./workload.ts";

/** parley-durable keeps its history in FerretDB, another process: its memory is not one server's RSS. */
const MEASURABLE = SYSTEM_NAMES.filter((name) => name !== "parley-durable");

const COMMAND = {
  usage: "npm run bench:memory --",
  summary:
    "Memory at rest: server RSS per 1,000 idle connections and per idle room, Parley against stock Colyseus, in one run. Each system is measured with N clients in rooms of --room-size and in rooms of 1, each in a fresh server on CPU 0; the two phases separate connections from rooms. Results go to --out.",
  options: {
    systems: {
      kind: "string",
      default: "colyseus-stock,parley-memory",
      help: `comma-separated systems: ${MEASURABLE.join(", ")}; a Parley system may carry settings, e.g. parley-memory@PARLEY_ROOT=<checkout> runs that checkout's server side by side with this one`,
    },
    runs: { kind: "integer", default: 3, min: 1, help: "runs per system (the median is reported)" },
    clients: { kind: "integer", default: 1000, min: 2, help: "idle clients seated in each phase" },
    "room-size": { kind: "integer", default: 10, min: 2, help: "members per conversation in phase A (phase B: 1)" },
    "settle-seconds": { kind: "number", default: 10, min: 1, max: 600, help: "longest wait for RSS to settle before a reading" },
    "settle-mib": { kind: "number", default: 1, min: 0, help: "RSS has settled when two readings 1 s apart differ by at most this" },
    gc: { kind: "boolean", help: "collect garbage in the server (through the V8 inspector) before each reading, and report heap used too" },
    "cpu-seconds": { kind: "number", default: 5, min: 1, max: 600, help: "window of each CPU-at-rest reading" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "folder for memory.json and memory.md" },
  },
  examples: ["npm run bench:memory -- --runs 1", "npm run bench:memory -- --systems colyseus-stock,parley-memory,socketio,ws-ceiling --clients 2000 --gc"],
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);

const systems = systemsOption(COMMAND, values.systems, MEASURABLE);
const runs = values.runs;
const clients = values.clients;
const roomSize = values["room-size"];
if (clients % roomSize !== 0) failUsage(COMMAND, `--clients (${clients}) must be a multiple of --room-size (${roomSize})`);
const settle = { timeoutMs: values["settle-seconds"] * 1000, toleranceKiB: values["settle-mib"] * 1024 };
const PHASES = [
  { name: "A", conversations: clients / roomSize, membersPerConversation: roomSize },
  { name: "B", conversations: clients, membersPerConversation: 1 },
] as const;

const SERVER_CPU = 0;
const LOADGEN_CPU = 1;
pinProcess(process.pid, LOADGEN_CPU);

/** Current resident set size of a process, KiB (VmRSS of /proc/<pid>/status). */
function rssKiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * RSS once it has settled: two readings 1 s apart within the tolerance, or the last reading when
 * `timeoutMs` passes first (then `settled` is false).
 */
async function settledRss(pid: number): Promise<{ kib: number; settled: boolean; waitedMs: number }> {
  const started = performance.now();
  let previous = rssKiB(pid);
  for (;;) {
    await sleep(1000);
    const current = rssKiB(pid);
    const waitedMs = performance.now() - started;
    if (Math.abs(current - previous) <= settle.toleranceKiB) return { kib: current, settled: true, waitedMs };
    if (waitedMs >= settle.timeoutMs) return { kib: current, settled: false, waitedMs };
    previous = current;
  }
}

/** A session on a server's V8 inspector: full GCs and heap usage from outside the process. */
type Inspector = { collectGarbage(): Promise<void>; heapUsedKiB(): Promise<number>; close(): void };

/** Attach to the inspector a server started with --inspect=127.0.0.1:0 announced on stderr. */
async function openInspector(server: ServerProcess): Promise<Inspector> {
  const url = await waitFor(() => /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(server.output())?.[0], { timeoutMs: 10_000, what: "the server's inspector address" });
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, (reply: { result?: unknown; error?: { message: string } }) => void>();
  socket.on("message", (data: Buffer) => {
    const reply = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    if (reply.id === undefined) return;
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  const call = <T>(method: string) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (reply) => (reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply.result as T)));
      socket.send(JSON.stringify({ id, method, params: {} }));
    });
  return {
    async collectGarbage() {
      await call("HeapProfiler.collectGarbage");
    },
    async heapUsedKiB() {
      return (await call<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize / 1024;
    },
    close: () => socket.close(),
  };
}

/** One reading: RSS (and, with --gc, heap used after a full GC), then CPU at rest over --cpu-seconds (ms a second). */
type Reading = { rssKiB: number; settled: boolean; waitedMs: number; heapUsedKiB?: number; cpuMsPerSec: number };

async function read(pid: number, inspector: Inspector | undefined): Promise<Reading> {
  await inspector?.collectGarbage();
  const { kib, settled, waitedMs } = await settledRss(pid);
  const heap = inspector ? { heapUsedKiB: await inspector.heapUsedKiB() } : {};
  const [cpuFrom, from] = [cpuMicros(pid), performance.now()];
  await sleep(values["cpu-seconds"] * 1000);
  const cpuMsPerSec = (cpuMicros(pid) - cpuFrom) / (performance.now() - from);
  return { rssKiB: kib, settled, waitedMs, ...heap, cpuMsPerSec };
}

/** One phase of one run: a fresh server, its baseline, and the same server with the clients idle. */
type PhaseResult = { phase: string; clients: number; rooms: number; baseline: Reading; loaded: Reading; seatMs: number };
/** One run of one system: both phases, and the costs they solve for. */
type MemoryRun = {
  phases: PhaseResult[];
  perConnectionKiB: number;
  perRoomKiB: number;
  perConnectionHeapKiB?: number;
  perRoomHeapKiB?: number;
  cpuMsPerSecPer1000Connections: number;
  cpuMsPerSecPer1000Rooms: number;
};
/** `name` is the system's label (`parley-memory@PARLEY_ROOT=...`, say). */
type SystemRuns = { name: string; runs: MemoryRun[]; skipped?: string; failures?: string[] };

/** The server of the phase under way, from the moment it is being started: Ctrl-C stops it too. */
let running: Promise<ServerProcess | undefined> | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void Promise.allSettled([running?.then((server) => server?.stop())]).then(() => process.exit(130)));
}

/** Start a fresh server, read its baseline, seat the phase's clients, read again, close, stop. */
async function measurePhase({ name, env }: SystemEntry, phase: (typeof PHASES)[number]): Promise<PhaseResult> {
  const starting = startSystem(name, { serverCpu: SERVER_CPU, parleyEnv: env, nodeArgs: values.gc ? ["--inspect=127.0.0.1:0"] : [] });
  running = starting.then(
    (system) => system.server,
    () => undefined,
  );
  const system = await starting;
  const errors = new Map<string, number>();
  const events: MemberEvents = { onDelivery: () => undefined, onAck: () => undefined, onError: (code) => void errors.set(code, (errors.get(code) ?? 0) + 1) };
  let inspector: Inspector | undefined;
  let seating: Awaited<ReturnType<typeof seatMembers>> = [];
  try {
    inspector = values.gc ? await openInspector(system.server) : undefined;
    const baseline = await read(system.server.pid, inspector);
    const seatStarted = performance.now();
    seating = await seatMembers(system.connector, phase.conversations, phase.membersPerConversation, events);
    const seatMs = performance.now() - seatStarted;
    if (errors.size > 0) throw new Error(`joins failed: ${JSON.stringify(Object.fromEntries(errors))}`);
    const loaded = await read(system.server.pid, inspector);
    if (errors.size > 0) throw new Error(`clients dropped while idle: ${JSON.stringify(Object.fromEntries(errors))}`);
    const seated = seating.flat().length;
    return { phase: phase.name, clients: seated, rooms: seating.filter((members) => members.length > 0).length, baseline, loaded, seatMs };
  } finally {
    await closeMembers(seating.flat());
    inspector?.close();
    await system.server.stop();
    running = undefined;
  }
}

/** Solve base-subtracted growth of the two phases for the cost of one connection and of one room. */
function solve(a: { clients: number; rooms: number; grown: number }, b: { clients: number; rooms: number; grown: number }): { perConnection: number; perRoom: number } {
  const determinant = a.clients * b.rooms - b.clients * a.rooms;
  return { perConnection: (a.grown * b.rooms - b.grown * a.rooms) / determinant, perRoom: (a.clients * b.grown - b.clients * a.grown) / determinant };
}

function runOf(phases: PhaseResult[]): MemoryRun {
  const [a, b] = phases as [PhaseResult, PhaseResult];
  const rss = solve({ clients: a.clients, rooms: a.rooms, grown: a.loaded.rssKiB - a.baseline.rssKiB }, { clients: b.clients, rooms: b.rooms, grown: b.loaded.rssKiB - b.baseline.rssKiB });
  const heap = values.gc
    ? solve(
        { clients: a.clients, rooms: a.rooms, grown: a.loaded.heapUsedKiB! - a.baseline.heapUsedKiB! },
        { clients: b.clients, rooms: b.rooms, grown: b.loaded.heapUsedKiB! - b.baseline.heapUsedKiB! },
      )
    : undefined;
  const cpu = solve(
    { clients: a.clients, rooms: a.rooms, grown: a.loaded.cpuMsPerSec - a.baseline.cpuMsPerSec },
    { clients: b.clients, rooms: b.rooms, grown: b.loaded.cpuMsPerSec - b.baseline.cpuMsPerSec },
  );
  return {
    phases,
    perConnectionKiB: rss.perConnection,
    perRoomKiB: rss.perRoom,
    cpuMsPerSecPer1000Connections: cpu.perConnection * 1000,
    cpuMsPerSecPer1000Rooms: cpu.perRoom * 1000,
    ...(heap ? { perConnectionHeapKiB: heap.perConnection, perRoomHeapKiB: heap.perRoom } : {}),
  };
}

const mib = (kib: number | null) => (kib === null ? null : kib / 1024);

/** Medians over a system's runs. */
function summariseRuns(system: SystemRuns) {
  const phase = (index: number) => system.runs.map((run) => run.phases[index]!);
  const [a, b] = [phase(0), phase(1)];
  const perConnectionKiB = median(system.runs.map((run) => run.perConnectionKiB));
  return {
    name: system.name,
    failedRuns: system.failures ?? [],
    measuredRuns: system.runs.length,
    baselineMiB: round(mib(median([...a, ...b].map((p) => p.baseline.rssKiB)))),
    rssAMiB: round(mib(median(a.map((p) => p.loaded.rssKiB)))),
    rssBMiB: round(mib(median(b.map((p) => p.loaded.rssKiB)))),
    perConnectionKiB: round(perConnectionKiB, 2),
    per1000ConnectionsMiB: round(mib(perConnectionKiB === null ? null : perConnectionKiB * 1000)),
    perRoomKiB: round(median(system.runs.map((run) => run.perRoomKiB)), 2),
    cpuAtRestMsPerSec: round(median([...a, ...b].map((p) => p.baseline.cpuMsPerSec)), 2),
    cpuMsPerSecPer1000Connections: round(median(system.runs.map((run) => run.cpuMsPerSecPer1000Connections)), 2),
    cpuMsPerSecPer1000Rooms: round(median(system.runs.map((run) => run.cpuMsPerSecPer1000Rooms)), 2),
    baselineHeapMiB: round(mib(median([...a, ...b].map((p) => p.baseline.heapUsedKiB)))),
    perConnectionHeapKiB: round(median(system.runs.map((run) => run.perConnectionHeapKiB)), 2),
    perRoomHeapKiB: round(median(system.runs.map((run) => run.perRoomHeapKiB)), 2),
    /** Readings taken when --settle-seconds ran out before RSS settled. */
    unsettledReadings: [...a, ...b].flatMap((p) => [p.baseline, p.loaded]).filter((r) => !r.settled).length,
    seatSeconds: round(median([...a, ...b].map((p) => p.seatMs / 1000))),
    runs: system.runs,
  };
}

type Measured = ReturnType<typeof summariseRuns>;
type Summary = Measured | { name: string; skipped: string };
const summarise = (system: SystemRuns): Summary => (system.skipped ? { name: system.name, skipped: system.skipped } : summariseRuns(system));
const isMeasured = (s: Summary): s is Measured => "runs" in s && s.measuredRuns > 0;

/** Parley's costs as multiples of every other measured system's. */
function ratios(summaries: Summary[]) {
  const measured = summaries.filter(isMeasured);
  const ratio = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : round(x / y, 2));
  return measured
    .filter((parley) => parley.name.startsWith("parley"))
    .flatMap((parley) =>
      measured
        .filter((other) => other !== parley)
        .map((other) => ({
          parley: parley.name,
          versus: other.name,
          baseline: ratio(parley.baselineMiB, other.baselineMiB),
          perConnection: ratio(parley.perConnectionKiB, other.perConnectionKiB),
          perRoom: ratio(parley.perRoomKiB, other.perRoomKiB),
          cpuPer1000Rooms: ratio(parley.cpuMsPerSecPer1000Rooms, other.cpuMsPerSecPer1000Rooms),
          ...(values.gc ? { perConnectionHeap: ratio(parley.perConnectionHeapKiB, other.perConnectionHeapKiB), perRoomHeap: ratio(parley.perRoomHeapKiB, other.perRoomHeapKiB) } : {}),
        })),
    );
}

const times = (x: number | null | undefined) => (x === null || x === undefined ? "–" : `${cell(x)}×`);
const count = (n: number) => n.toLocaleString("en-US");

function buildReport(results: SystemRuns[], durationSec: number) {
  const systemSummaries = results.map(summarise);
  return {
    generatedAt: new Date().toISOString(),
    machine: machineLine(),
    cpuSplit: hasTaskset ? `each server pinned to CPU ${SERVER_CPU}, load generator to CPU ${LOADGEN_CPU} (taskset)` : "no taskset: processes unpinned",
    workload: {
      description: `${count(clients)} idle clients, seated in ${count(clients / roomSize)} conversations of ${roomSize} (phase A) and in ${count(clients)} conversations of 1 (phase B), each phase in a fresh server; no messages sent`,
      clients,
      roomSize,
      phases: PHASES,
      settleSeconds: settle.timeoutMs / 1000,
      settleMiB: settle.toleranceKiB / 1024,
      gc: values.gc,
    },
    runs,
    durationSec,
    systems: systemSummaries,
    ratios: ratios(systemSummaries),
  };
}

function markdown(report: ReturnType<typeof buildReport>): string {
  const gc = report.workload.gc;
  const heapHeads = gc ? " heap used MiB at rest | heap KiB / connection | heap KiB / room |" : "";
  const lines = [
    `Workload: ${report.workload.description}. Machine: ${report.machine}. CPU split: ${report.cpuSplit}. Median of ${report.runs} runs; the whole bench took ${Math.round(report.durationSec)} s.`,
    "",
    `| system | RSS at rest MiB | RSS, A: ${count(clients)} clients in ${count(clients / roomSize)} rooms, MiB | RSS, B: ${count(clients)} clients in ${count(clients)} rooms, MiB | KiB / connection | MiB / 1,000 connections | KiB / room |${heapHeads} CPU at rest ms/s | CPU ms/s / 1,000 idle connections | CPU ms/s / 1,000 idle rooms | unsettled readings |`,
    `|---|---|---|---|---|---|---|${gc ? "---|---|---|" : ""}---|---|---|---|`,
    ...report.systems.map((s) =>
      isMeasured(s)
        ? `| ${s.name} | ${cell(s.baselineMiB)} | ${cell(s.rssAMiB)} | ${cell(s.rssBMiB)} | ${cell(s.perConnectionKiB)} | ${cell(s.per1000ConnectionsMiB)} | ${cell(s.perRoomKiB)} |${gc ? ` ${cell(s.baselineHeapMiB)} | ${cell(s.perConnectionHeapKiB)} | ${cell(s.perRoomHeapKiB)} |` : ""} ${cell(s.cpuAtRestMsPerSec)} | ${cell(s.cpuMsPerSecPer1000Connections)} | ${cell(s.cpuMsPerSecPer1000Rooms)} | ${s.unsettledReadings} |`
        : `| ${s.name} | ${"skipped" in s ? `skipped: ${s.skipped}` : "no run measured"} | | | | | |${gc ? " | | |" : ""} | | | |`,
    ),
    "",
    `| Parley | versus | RSS at rest ratio | per connection ratio | per room ratio |${gc ? " heap per connection ratio | heap per room ratio |" : ""} idle CPU per room ratio |`,
    `|---|---|---|---|---|${gc ? "---|---|" : ""}---|`,
    ...report.ratios.map(
      (r) =>
        `| ${r.parley} | ${r.versus} | ${times(r.baseline)} | ${times(r.perConnection)} | ${times(r.perRoom)} |${gc ? ` ${times(r.perConnectionHeap)} | ${times(r.perRoomHeap)} |` : ""} ${times(r.cpuPer1000Rooms)} |`,
    ),
    ...report.systems.flatMap((s) => ("failedRuns" in s ? s.failedRuns.map((failure) => `\n${s.name} ${failure} (left out of the medians)`) : [])),
    "",
    `Each phase starts a fresh server; its RSS (VmRSS) is read once it has settled (two readings 1 s apart within ${report.workload.settleMiB} MiB, at most ${report.workload.settleSeconds} s) after it listens, and again once settled with the clients seated and idle. ` +
      "Per connection and per room solve the two phases' growth over their own baseline: A − base = clients × connection + rooms_A × room, B − base = clients × connection + rooms_B × room. " +
      (gc
        ? "Before each reading a full garbage collection ran in the server through the V8 inspector (attached from start, so its own memory is in the baseline); heap used is V8's after that collection. "
        : "RSS is as it is, garbage not yet collected included (run with --gc to collect first and report heap used too). ") +
      "CPU is the server's own CPU time (/proc, 10 ms ticks) over a window of " +
      `${values["cpu-seconds"]} s after each RSS reading, nothing sent; its growth is solved the same way, per 1,000 connections and per 1,000 rooms (a timer per room shows up there). ` +
      "RSS at rest is the median baseline of both phases. A negative or odd cost is noise larger than the cost: raise --clients. Unsettled readings were taken when the wait ran out before RSS settled.",
  ];
  return lines.join("\n");
}

/** Write memory.json and memory.md into `dir`; returns the markdown and the paths. */
function writeResults(dir: string, results: SystemRuns[], durationSec: number): { markdown: string; paths: string[] } {
  mkdirSync(dir, { recursive: true });
  const report = buildReport(results, durationSec);
  const md = markdown(report);
  const paths = [join(dir, "memory.json"), join(dir, "memory.md")];
  writeFileSync(paths[0]!, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(paths[1]!, `${md}\n`);
  return { markdown: md, paths };
}

const results = new Map<string, SystemRuns>(systems.map(({ label }) => [label, { name: label, runs: [] }]));
const benchStarted = Date.now();
const saveResults = () => writeResults(values.out, [...results.values()], (Date.now() - benchStarted) / 1000);
const fmt = (kib: number) => (kib / 1024).toFixed(1);

for (let run = 0; run < runs; run++) {
  for (const system of systems) {
    const name = system.label;
    const entry = results.get(name)!;
    if (entry.skipped) continue;
    const phases: PhaseResult[] = [];
    try {
      for (const phase of PHASES) {
        const result = await measurePhase(system, phase);
        phases.push(result);
        console.log(
          `run ${run + 1}/${runs} ${name.padEnd(14)} phase ${phase.name}: ${count(result.clients)} clients in ${count(result.rooms)} rooms  ` +
            `RSS ${fmt(result.baseline.rssKiB)} → ${fmt(result.loaded.rssKiB)} MiB  CPU at rest ${result.baseline.cpuMsPerSec.toFixed(1)} → ${result.loaded.cpuMsPerSec.toFixed(1)} ms/s${result.loaded.heapUsedKiB !== undefined ? `  heap ${fmt(result.baseline.heapUsedKiB!)} → ${fmt(result.loaded.heapUsedKiB)} MiB` : ""}  ` +
            `seated in ${(result.seatMs / 1000).toFixed(1)} s${result.baseline.settled && result.loaded.settled ? "" : "  (RSS not settled)"}`,
        );
      }
      const measured = runOf(phases);
      entry.runs.push(measured);
      console.log(
        `run ${run + 1}/${runs} ${name.padEnd(14)} ${measured.perConnectionKiB.toFixed(2)} KiB per connection, ${measured.perRoomKiB.toFixed(2)} KiB per room; CPU at rest ${measured.cpuMsPerSecPer1000Connections.toFixed(1)} ms/s per 1,000 connections, ${measured.cpuMsPerSecPer1000Rooms.toFixed(1)} per 1,000 rooms` +
          (measured.perConnectionHeapKiB !== undefined ? `  (heap: ${measured.perConnectionHeapKiB.toFixed(2)} and ${measured.perRoomHeapKiB!.toFixed(2)} KiB)` : ""),
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (reason.startsWith("skipped:")) {
        entry.skipped = reason.replace(/^skipped:\s*/, "");
        console.log(`${name}: skipped: ${entry.skipped}`);
        continue;
      }
      // One failed phase (joins timing out while neighbours hog the CPU, say) costs one run, not the bench.
      entry.failures = [...(entry.failures ?? []), `run ${run + 1}: ${reason}`];
      console.log(`run ${run + 1}/${runs} ${name}: failed: ${reason}`);
    }
    saveResults();
  }
}

const files = saveResults();
console.log(`\n${files.markdown}\nwritten: ${files.paths.join(", ")}`);
