/**
 * Benchmark results: medians over runs per system, ratios of Parley to the ceiling and each peer,
 * written as loadtest/results/latest.json, latest.md and latest.svg (p99 against deliveries/s).
 * `node loadtest/report.ts [latest.json]` renders them again from the runs a latest.json keeps.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import type { SweepOptions, SweepResult, StepResult } from "./sweep.ts";

/** One sweep; `run` is its run of the bench (1-based; results written before it was kept lack it). */
export type BenchRun = SweepResult & { run?: number };
/** `name`: the system, or the system with the settings it ran with ("parley-durable@GROUP_COMMIT_WINDOW_MS=10"). */
export type SystemRuns = { name: string; runs: BenchRun[]; skipped?: string; failures?: string[] };

/** The send rate (messages/s) at which p50, p99 and CPU per delivery are compared. */
const COMPARE_RATE = 2000;
/** CPU (% of a core) at which the load generator, or else the server, is taken to be the limit. */
const LOADGEN_SATURATED_PCT = 85;
const SERVER_SATURATED_PCT = 80;
/** Other processes' CPU (% of one core) at a failing step above which the step says little. */
const NOISY_NEIGHBOURS_PCT = 50;

/** The median of the finite numbers (undefined and NaN left out), or null when there is none. */
export const median = (xs: ReadonlyArray<number | undefined>): number | null => {
  const sorted = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const round = (x: number | null, digits = 1) => (x === null ? null : Number(x.toFixed(digits)));

/** The best passing step of a run, and the step that stopped it. */
function bestAndStop(run: BenchRun): { best: StepResult | undefined; stop: StepResult | undefined } {
  const passed = run.steps.filter((step) => step.passed);
  return { best: passed.at(-1), stop: run.steps.find((step) => !step.passed) };
}

/** Why a run stopped where it did. */
function limitOf(run: BenchRun): string {
  const { stop } = bestAndStop(run);
  if (!stop) return "top rate reached";
  if (stop.loadgenCpuPct >= LOADGEN_SATURATED_PCT) return "load generator";
  if (stop.otherCpuPct >= NOISY_NEIGHBOURS_PCT) return "neighbours (shared machine busy)";
  if (stop.deliveredRatio < 0.999) return "deliveries lost";
  return stop.serverCpuPct >= SERVER_SATURATED_PCT ? "server CPU" : "latency (server not saturated)";
}

/** A run's step at the comparison rate (the passed one, if it was measured twice). */
const at = (run: BenchRun) => run.steps.find((step) => step.ratePerSec === COMPARE_RATE && step.passed) ?? run.steps.find((step) => step.ratePerSec === COMPARE_RATE);

/** CPU per delivery at the comparison rate, by run number. */
const cpuByRun = (runs: readonly BenchRun[]) => new Map(runs.map((run, index) => [run.run ?? index + 1, at(run)?.serverCpuUsPerDelivery] as const));

/** One row of latest.json's `systems`. */
function summarise(system: SystemRuns) {
  if (system.skipped) return { name: system.name, skipped: system.skipped };
  const atCompare = system.runs.map(at).filter((step): step is StepResult => step !== undefined);
  const limits = system.runs.map(limitOf);
  const rates = [...new Set(system.runs.flatMap((run) => run.steps.map((step) => step.ratePerSec)))].sort((a, b) => a - b);
  return {
    name: system.name,
    failedRuns: system.failures ?? [],
    maxDeliveriesPerSecAtP99Under100ms: round(median(system.runs.map((run) => bestAndStop(run).best?.deliveriesPerSec ?? 0)), 0),
    p50MsAt2kSent: round(median(atCompare.map((step) => step.delivery.p50)), 2),
    p99MsAt2kSent: round(median(atCompare.map((step) => step.delivery.p99)), 2),
    ackP99MsAt2kSent: round(median(atCompare.flatMap((step) => (step.ack ? [step.ack.p99] : []))), 2),
    serverCpuUsPerDelivery: round(median(atCompare.map((step) => step.serverCpuUsPerDelivery)), 2),
    /** The system's own process, the store left out: what the project is judged on. */
    ownCpuUsPerDelivery: round(median(atCompare.map((step) => step.serverCpuUsPerDelivery - (step.storeCpuUsPerDelivery ?? 0))), 2),
    /** The durable store's process alone (0 without one). */
    storeCpuUsPerDelivery: round(median(atCompare.map((step) => step.storeCpuUsPerDelivery ?? 0)), 2),
    /** 1e6 / serverCpuUsPerDelivery: what one fully busy server core would deliver; CPU time, so neighbours barely move it. */
    deliveriesPerServerCpuSec: round(median(atCompare.map((step) => 1e6 / step.serverCpuUsPerDelivery)), 0),
    serverRssMb: round(median(system.runs.map((run) => run.serverRssMb)), 0),
    loadgenCpuPctAtMax: round(median(system.runs.map((run) => bestAndStop(run).best?.loadgenCpuPct ?? Number.NaN)), 0),
    otherCpuPctMedian: round(median(system.runs.flatMap((run) => run.steps.map((step) => step.otherCpuPct))), 0),
    limitedBy: limits.sort((a, b) => limits.filter((x) => x === b).length - limits.filter((x) => x === a).length)[0],
    curve: rates.map((ratePerSec) => {
      const steps = system.runs.flatMap((run) => run.steps.filter((step) => step.ratePerSec === ratePerSec));
      return {
        ratePerSec,
        runs: steps.length,
        deliveriesPerSec: round(median(steps.map((s) => s.deliveriesPerSec)), 0),
        p50Ms: round(median(steps.map((s) => s.delivery.p50)), 2),
        p99Ms: round(median(steps.map((s) => s.delivery.p99)), 2),
        deliveredRatio: round(median(steps.map((s) => s.deliveredRatio)), 5),
        serverCpuPct: round(median(steps.map((s) => s.serverCpuPct)), 0),
        loadgenCpuPct: round(median(steps.map((s) => s.loadgenCpuPct)), 0),
        otherCpuPct: round(median(steps.map((s) => s.otherCpuPct)), 0),
      };
    }),
    runs: system.runs,
  };
}

type Summary = ReturnType<typeof summarise>;
type Measured = Extract<Summary, { curve: unknown }>;
const isMeasured = (s: Summary): s is Measured => "curve" in s;

/**
 * Parley's CPU per delivery over the other system's, run by run (the two measured minutes apart in
 * the same run), and their median: this machine's level drifts between runs by more than most
 * differences between systems (docs/measurements.md, sixteenth session), and a ratio within a run
 * cancels that drift where the ratio of the two medians need not.
 */
function pairedCpuRatios(parley: readonly BenchRun[], other: readonly BenchRun[]) {
  const theirs = cpuByRun(other);
  const byRun = [...cpuByRun(parley)].flatMap(([run, cpu]) => {
    const versus = theirs.get(run);
    return cpu !== undefined && versus !== undefined && versus > 0 ? [cpu / versus] : [];
  });
  return { cpuPerDeliveryByRun: byRun.map((ratio) => round(ratio, 2)), cpuPerDeliveryPaired: round(median(byRun), 2) };
}

/** Parley's throughput and CPU per delivery as multiples of every other measured system. */
function ratios(summaries: Summary[]) {
  const measured = summaries.filter(isMeasured);
  return measured
    .filter((parley) => parley.name.startsWith("parley"))
    .flatMap((parley) =>
      measured
        .filter((other) => other !== parley)
        .map((other) => ({
          parley: parley.name,
          versus: other.name,
          throughput: round((parley.maxDeliveriesPerSecAtP99Under100ms ?? 0) / (other.maxDeliveriesPerSecAtP99Under100ms || Number.NaN), 2),
          deliveriesPerCpuSec: round((parley.deliveriesPerServerCpuSec ?? Number.NaN) / (other.deliveriesPerServerCpuSec ?? Number.NaN), 2),
          cpuPerDelivery: round((parley.serverCpuUsPerDelivery ?? Number.NaN) / (other.serverCpuUsPerDelivery ?? Number.NaN), 2),
          ...pairedCpuRatios(parley.runs, other.runs),
          ownCpuPerDelivery: round((parley.ownCpuUsPerDelivery ?? Number.NaN) / (other.ownCpuUsPerDelivery ?? Number.NaN), 2),
          p99At2k: round((parley.p99MsAt2kSent ?? Number.NaN) / (other.p99MsAt2kSent ?? Number.NaN), 2),
        })),
    );
}

export const cell = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "–" : x.toLocaleString("en-US"));

function markdown(report: ReturnType<typeof buildReport>): string {
  const lines = [
    `Workload: ${report.workload.description}. Machine: ${report.machine}. CPU split: ${report.cpuSplit}. Median of ${report.runs} runs, the systems measured one after another, each sweep by a fresh load-generator process, each run starting one system later; the whole bench took ${Math.round(report.durationSec)} s.`,
    "",
    "| system | max deliveries/s (p99 < 100 ms, ≥ 99.9 %) | p50 ms @ 2k sent/s | p99 ms @ 2k sent/s | server CPU µs / delivery | of it, the system's own | of it, the store's | deliveries per server CPU-second | server RSS MiB | load gen CPU % at max | neighbours' CPU % | stopped by |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...report.systems.map((s) =>
      isMeasured(s)
        ? `| ${s.name} | ${cell(s.maxDeliveriesPerSecAtP99Under100ms)} | ${cell(s.p50MsAt2kSent)} | ${cell(s.p99MsAt2kSent)} | ${cell(s.serverCpuUsPerDelivery)} | ${cell(s.ownCpuUsPerDelivery)} | ${cell(s.storeCpuUsPerDelivery)} | ${cell(s.deliveriesPerServerCpuSec)} | ${cell(s.serverRssMb)} | ${cell(s.loadgenCpuPctAtMax)} | ${cell(s.otherCpuPctMedian)} | ${s.limitedBy} |`
        : `| ${s.name} | skipped: ${s.skipped} | | | | | | | | | | |`,
    ),
    "",
    "| Parley | versus | max deliveries/s ratio | deliveries per CPU-second ratio | CPU per delivery ratio | CPU per delivery, run by run: median (each run) | own CPU per delivery ratio (store left out) | p99 @ 2k ratio |",
    "|---|---|---|---|---|---|---|---|",
    ...report.ratios.map(
      (r) =>
        `| ${r.parley} | ${r.versus} | ${cell(r.throughput)}× | ${cell(r.deliveriesPerCpuSec)}× | ${cell(r.cpuPerDelivery)}× | ${cell(r.cpuPerDeliveryPaired)}× (${r.cpuPerDeliveryByRun.join(", ")}) | ${cell(r.ownCpuPerDelivery)}× | ${cell(r.p99At2k)}× |`,
    ),
    ...report.systems.filter(isMeasured).flatMap((s) => s.failedRuns.map((failure) => `\n${s.name} ${failure} (left out of the medians)`)),
    "",
    "Deliveries: each message to all 10 members of its conversation, sender included. Server CPU per delivery is measured at 2,000 sent/s (20,000 deliveries/s), from the step's start until its deliveries drained; for a durable Parley it includes the store on the same core, and the next two columns split it between Parley's own process and the store's. " +
      "Deliveries per server CPU-second (1e6 / CPU per delivery) is the noise-robust capacity figure: CPU time barely moves when neighbours are busy, wall-clock latency does. Neighbours' CPU is what other processes on this shared machine used during the steps (% of one core). A system stopped by the load generator has a higher real maximum: its row and ratios against it are bounds, not measurements.",
  ];
  return lines.join("\n");
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** A hand-written SVG: delivery p99 (ms, capped at 300) against deliveries/s, one line per system. */
function chart(summaries: Summary[], p99LimitMs: number): string {
  const measured = summaries.filter(isMeasured);
  const width = 760,
    height = 420,
    left = 60,
    right = 170,
    top = 30,
    bottom = 50;
  const maxX = Math.max(1, ...measured.flatMap((s) => s.curve.map((p) => p.deliveriesPerSec ?? 0))) * 1.05;
  const maxY = 300;
  const x = (v: number) => left + (v / maxX) * (width - left - right);
  const y = (v: number) => top + (1 - Math.min(v, maxY) / maxY) * (height - top - bottom);
  const ticks = Array.from({ length: 6 }, (_, i) => (maxX / 5) * i);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="14">Delivery p99 latency against deliveries per second (median of runs)</text>`,
    `<line x1="${left}" y1="${y(0)}" x2="${width - right}" y2="${y(0)}" stroke="black"/><line x1="${left}" y1="${y(0)}" x2="${left}" y2="${top}" stroke="black"/>`,
    `<line x1="${left}" y1="${y(p99LimitMs)}" x2="${width - right}" y2="${y(p99LimitMs)}" stroke="#999" stroke-dasharray="4 4"/><text x="${width - right - 4}" y="${y(p99LimitMs) - 4}" text-anchor="end" fill="#666">p99 ${p99LimitMs} ms</text>`,
    ...ticks.map((t) => `<text x="${x(t)}" y="${y(0) + 16}" text-anchor="middle">${Math.round(t / 1000)}k</text>`),
    ...[0, 50, 100, 150, 200, 250, 300].map((t) => `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`),
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">deliveries/s (each message to all 10 members)</text>`,
    `<text x="14" y="${(top + height - bottom) / 2}" transform="rotate(-90 14 ${(top + height - bottom) / 2})" text-anchor="middle">p99 ms (capped at ${maxY})</text>`,
  ];
  measured.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.curve.filter((p) => p.deliveriesPerSec !== null && p.p99Ms !== null).map((p) => `${x(p.deliveriesPerSec!).toFixed(1)},${y(p.p99Ms!).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(" ")}"/>`);
    parts.push(...points.map((p) => `<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${color}"/>`));
    parts.push(`<rect x="${width - right + 12}" y="${top + i * 20}" width="12" height="12" fill="${color}"/><text x="${width - right + 30}" y="${top + i * 20 + 11}">${s.name}</text>`);
  });
  summaries.filter((s) => !isMeasured(s)).forEach((s, i) => parts.push(`<text x="${width - right + 12}" y="${top + (measured.length + i) * 20 + 11}" fill="#999">${s.name}: skipped</text>`));
  parts.push("</svg>");
  return parts.join("\n");
}

/** The machine a benchmark ran on, as every report states it. */
export function machineLine(): string {
  return `${os.cpus()[0]?.model} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export type ReportInput = { systems: SystemRuns[]; options: SweepOptions; runs: number; cpuSplit: string; storeKind: string | undefined; durationSec: number };

function buildReport(input: ReportInput) {
  const systems = input.systems.map(summarise);
  const { options } = input;
  return {
    generatedAt: new Date().toISOString(),
    machine: machineLine(),
    cpuSplit: input.cpuSplit,
    workload: {
      description: `${options.conversations * options.membersPerConversation} clients in ${options.conversations} conversations of ${options.membersPerConversation}, ${options.textBytes}-byte texts, open-loop senders stepped through ${options.ratesPerSec.join(", ")} messages/s (${options.stepMs / 1000} s each after a ${options.warmupMs / 1000} s warm-up) until delivery p99 passes ${options.p99LimitMs} ms or fewer than ${options.minDeliveredRatio * 100} % of deliveries arrive; latency from the send time in the payload to receipt by each member${input.storeKind ? `; durable stores: ${input.storeKind}` : ""}`,
      ...options,
    },
    runs: input.runs,
    storeKind: input.storeKind,
    durationSec: input.durationSec,
    systems,
    ratios: ratios(systems),
  };
}

/** Write latest.json, latest.md and latest.svg into `dir`; returns the markdown and the paths. */
export function writeResults(dir: string, input: ReportInput): { markdown: string; paths: string[] } {
  mkdirSync(dir, { recursive: true });
  const report = buildReport(input);
  const md = markdown(report);
  const paths = [join(dir, "latest.json"), join(dir, "latest.md"), join(dir, "latest.svg")];
  writeFileSync(paths[0]!, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(paths[1]!, `${md}\n\n![p99 against deliveries/s](latest.svg)\n`);
  writeFileSync(paths[2]!, `${chart(report.systems, input.options.p99LimitMs)}\n`);
  return { markdown: md, paths };
}

/** One bench run in the history: when, at which commit, on what, and each system's headline figures. */
type HistoryEntry = {
  at: string;
  commit: string;
  machine: string;
  workload: string;
  runs: number;
  systems: Array<{
    name: string;
    skipped?: string;
    max?: number | null;
    p99At2k?: number | null;
    cpu?: number | null;
    own?: number | null;
    store?: number | null;
    rssMb?: number | null;
    limitedBy?: string;
  }>;
};

/**
 * Append this bench's headline figures to `dir`/history.jsonl and render history.md from all of
 * them, newest first, so a change's effect shows against the runs before it.
 */
export function appendHistory(dir: string, input: ReportInput): string {
  const report = buildReport(input);
  const git = (args: string[]) => spawnSync("git", args, { cwd: import.meta.dirname, encoding: "utf8" }).stdout?.trim() ?? "";
  const commit = `${git(["rev-parse", "--short", "HEAD"]) || "unknown"}${git(["status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)loadtest/results"]) ? " (with uncommitted changes)" : ""}`;
  const entry: HistoryEntry = {
    at: report.generatedAt,
    commit,
    machine: report.machine,
    workload: report.workload.description,
    runs: report.runs,
    systems: report.systems.map((s) =>
      isMeasured(s)
        ? {
            name: s.name,
            max: s.maxDeliveriesPerSecAtP99Under100ms,
            p99At2k: s.p99MsAt2kSent,
            cpu: s.serverCpuUsPerDelivery,
            own: s.ownCpuUsPerDelivery,
            store: s.storeCpuUsPerDelivery,
            rssMb: s.serverRssMb,
            limitedBy: s.limitedBy,
          }
        : { name: s.name, skipped: s.skipped },
    ),
  };
  appendFileSync(join(dir, "history.jsonl"), `${JSON.stringify(entry)}\n`);
  return renderHistory(dir);
}

/** Render `dir`/history.md from `dir`/history.jsonl (newest first); returns its path. */
export function renderHistory(dir: string): string {
  const entries = readFileSync(join(dir, "history.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as HistoryEntry)
    .reverse();
  const md = [
    "# Benchmark history",
    "",
    "Every `npm run bench` appends its headline figures here (newest first); latest.md has the last run in full. CPU is µs of server CPU per delivery at 2,000 sent/s: all of it, the system's own process, and the store's.",
    ...entries.flatMap((e) => [
      "",
      `## ${e.at.slice(0, 16).replace("T", " ")} UTC, ${e.commit}, median of ${e.runs}`,
      "",
      `${e.workload}. ${e.machine}.`,
      "",
      "| system | max deliveries/s | p99 ms @ 2k | CPU µs | own | store | RSS MiB | stopped by |",
      "|---|---|---|---|---|---|---|---|",
      ...e.systems.map((s) =>
        s.skipped
          ? `| ${s.name} | skipped: ${s.skipped} | | | | | | |`
          : `| ${s.name} | ${cell(s.max)} | ${cell(s.p99At2k)} | ${cell(s.cpu)} | ${cell(s.own)} | ${cell(s.store)} | ${cell(s.rssMb)} | ${s.limitedBy} |`,
      ),
    ]),
  ];
  writeFileSync(join(dir, "history.md"), `${md.join("\n")}\n`);
  return join(dir, "history.md");
}

/** Re-render latest.md and latest.svg (and the summaries in latest.json) from a latest.json's runs. */
if (import.meta.main) {
  const file = process.argv[2] ?? join(import.meta.dirname, "results", "latest.json");
  const previous = JSON.parse(readFileSync(file, "utf8")) as ReturnType<typeof buildReport>;
  const { description: _description, ...options } = previous.workload;
  const systems = previous.systems.map((s): SystemRuns => (isMeasured(s) ? { name: s.name, runs: s.runs, failures: s.failedRuns } : { name: s.name, runs: [], skipped: s.skipped }));
  const { markdown: md } = writeResults(dirname(file), { systems, options, runs: previous.runs, cpuSplit: previous.cpuSplit, storeKind: previous.storeKind, durationSec: previous.durationSec });
  console.log(md);
}
