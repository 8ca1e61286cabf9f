/**
 * Benchmark: the event-loop stalls of a node at rest with many idle clients (one seated client per
 * room, as a third of a 20,000-room cluster holds). Timers that touch every client at once (the
 * transport's keep-alive pings) stall the loop, and whatever arrives then waits: the node's own
 * `nodejs_eventloop_lag_max_seconds` (prom-client, 10 ms resolution) over 10 s windows tells how
 * long. `--roots` compares checkouts of Parley side by side, alternating, each in a fresh node on
 * CPU 0 (the load generator and its filler children on CPU 1). Numbers are reported, never asserted.
 *
 *   npm run bench:stall --                                   # this checkout, 6,000 clients, 3 runs
 *   npm run bench:stall -- --roots .,/tmp/parley-before      # against another checkout
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { commandLine, type Command, type Option } from "../deploy/cli.ts";
import { sampleSum, scrape } from "../deploy/metrics-text.ts";
import { startNode } from "../deploy/node-process.ts";
import { fillTo, startFiller, stopFillers } from "./fillers.ts";
import { hasTaskset, pinProcess } from "./server-process.ts";
import { machineLine, median } from "./report.ts";

const COMMAND = {
  usage: "npm run bench:stall --",
  summary: "Event-loop stalls of one node at rest holding many idle seated clients: the longest delay and p99 per 10 s window, checkouts side by side.",
  options: {
    clients: { kind: "integer", default: 6000, min: 1, help: "idle clients, one room each" },
    roots: { kind: "string", default: ".", help: "comma-separated Parley checkouts to compare (each runs its own server/main.ts)" },
    runs: { kind: "integer", default: 3, min: 1, help: "runs per checkout, alternating" },
    windows: { kind: "integer", default: 4, min: 1, help: "10 s windows per run" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "folder for stall.json and stall.md" },
  },
} as const satisfies Command<Record<string, Option>>;
const values = commandLine(COMMAND);
const clients = Number(values.clients);
const roots = values.roots.split(",").map((root) => resolve(root));
const say = (line: string) => console.log(`[bench-stall ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** The node's event-loop delay since the previous scrape (prom-client resets it on each collect), in ms. */
async function loopDelay(httpUrl: string): Promise<{ maxMs: number; p99Ms: number }> {
  const samples = await scrape(httpUrl);
  return { maxMs: sampleSum(samples, "nodejs_eventloop_lag_max_seconds") * 1000, p99Ms: sampleSum(samples, "nodejs_eventloop_lag_p99_seconds") * 1000 };
}

async function runOnce(root: string): Promise<Array<{ maxMs: number; p99Ms: number }>> {
  const node = await startNode({ LOG_LEVEL: "warn" }, undefined, root);
  if (node.child.pid !== undefined) pinProcess(node.child.pid, 0);
  const fillers = [await startFiller(), await startFiller()];
  try {
    const filled = await fillTo(fillers, [node.httpUrl], 0, clients, new Map(), { roomsPerFiller: Math.ceil(clients / 2), concurrency: 16 });
    if (filled.errors > 0) say(`${filled.errors} joins failed (first: ${filled.firstError})`);
    await loopDelay(node.httpUrl);
    const windows = [];
    for (let i = 0; i < Number(values.windows); i++) {
      await new Promise((done) => setTimeout(done, 10_000));
      windows.push(await loopDelay(node.httpUrl));
    }
    return windows;
  } finally {
    await stopFillers(fillers);
    await node.stop();
  }
}

// Before anything starts, so the fillers inherit CPU 1.
pinProcess(process.pid, 1);
const byRoot = new Map<string, Array<{ maxMs: number; p99Ms: number }>>(roots.map((root) => [root, []]));
for (let run = 0; run < Number(values.runs); run++) {
  for (const root of run % 2 === 0 ? roots : [...roots].reverse()) {
    const windows = await runOnce(root);
    byRoot.get(root)!.push(...windows);
    say(`${root}: ${windows.map((w) => `max ${w.maxMs.toFixed(1)} p99 ${w.p99Ms.toFixed(1)}`).join(", ")} ms`);
  }
}
const rows = [...byRoot].map(([root, windows]) => {
  const max = windows.map((w) => w.maxMs);
  return { root, windows: windows.length, maxMedianMs: median(max) ?? Number.NaN, maxRangeMs: [Math.min(...max), Math.max(...max)], p99MedianMs: median(windows.map((w) => w.p99Ms)) ?? Number.NaN };
});
const report = [
  "# Event-loop stalls at rest",
  "",
  `Run ${new Date().toISOString()} by \`npm run bench:stall -- --clients ${clients} --roots ${values.roots}\` (loadtest/bench-stall.ts). Numbers are reported, never asserted.`,
  "",
  `- Machine: ${machineLine()}; ${hasTaskset ? "the node on CPU 0, the bench and its fillers on CPU 1 (taskset)" : "no taskset: unpinned"}.`,
  `- Workload: one node (in-memory history), ${clients} idle clients each seated in a room of its own; ${values.windows} windows of 10 s per run, ${values.runs} runs per checkout, alternating.`,
  "",
  "| checkout | windows | longest delay per window, median (range) | p99 per window, median |",
  "|---|---|---|---|",
  ...rows.map((row) => `| ${row.root} | ${row.windows} | ${row.maxMedianMs.toFixed(1)} ms (${row.maxRangeMs.map((v) => v.toFixed(1)).join("-")}) | ${row.p99MedianMs.toFixed(1)} ms |`),
  "",
].join("\n");
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, "stall.json"), `${JSON.stringify({ machine: machineLine(), clients, rows, byRoot: Object.fromEntries(byRoot) }, null, 2)}\n`);
writeFileSync(join(values.out, "stall.md"), report);
console.log(`\n${report}`);
process.exit(0);
