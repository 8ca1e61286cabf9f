/**
 * Benchmark (issue #14): what tracing costs. The same chat workload runs on a node with tracing
 * off and on (OpenTelemetry, parent-based trace-id ratio sampling, 1 % unless told), durable
 * history on the MongoDB-wire store and routing on Redis so every instrumentation is in play; the
 * spans go over OTLP/HTTP to a sink in this process. Each window runs a fresh node per mode, all at
 * the same time under the same load, so drift and the other core's load fall on every mode alike;
 * each node's CPU time per delivery is the figure (goal: tracing at 1 % within 10 % of off). The
 * ratio is taken per window, then the median over windows.
 *
 *   npm run bench:tracing -- [--runs 3] [--seconds 10] [--conversations 20] [--room-size 5] [--rate 200] [--ratios 0.01,1]
 *
 * The node runs pinned to CPU 0; the load generator, Redis and the store share CPU 1. Printed and
 * written to loadtest/results/tracing.md, never asserted.
 */
import "./clients/prefer-ws.ts";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { commandLine, failUsage, positiveList } from "../deploy/cli.ts";
import { startMongoWire, startRedis, withDatabase, type Service } from "../deploy/services.ts";
import { colyseusConnector, parleyChatNamed } from "./clients/colyseus.ts";
import { cpuMicros, hasTaskset, startServer } from "./server-process.ts";
import { newestProfile, summariseProfile } from "./profile-summary.ts";
import { createMeter, drain, percentilesMs, seatAll, sendOpenLoop } from "./workload.ts";

const values = commandLine({
  usage: "npm run bench:tracing --",
  summary: "Node CPU per delivery with tracing off and on (OpenTelemetry, sampled), alternating windows on fresh nodes in one run. Results go to --out/tracing.md.",
  options: {
    runs: { kind: "integer", default: 3, min: 1, help: "windows per mode" },
    seconds: { kind: "number", default: 10, min: 1, help: "seconds per measured window (after a warm-up window of the same length)" },
    conversations: { kind: "integer", default: 20, min: 1, help: "channels of the workload" },
    "room-size": { kind: "integer", default: 5, min: 1, help: "members per channel" },
    rate: { kind: "integer", default: 200, min: 1, help: "messages per second" },
    ratios: { kind: "string", default: "0.01", help: "comma-separated sampling ratios to run beside tracing off" },
    out: { kind: "string", default: join(import.meta.dirname, "results"), help: "results folder" },
    profile: { kind: "boolean", help: "record a CPU profile of every node (--cpu-prof) and summarise each mode's" },
  },
});
const command = { usage: "npm run bench:tracing --" };
const windowMs = Number(values.seconds) * 1000;
const ratios = positiveList(command, "--ratios", String(values.ratios));
if (ratios.some((ratio) => ratio > 1)) failUsage(command, "--ratios: sampling ratios are in (0, 1]");

// The collector stand-in: accepts every export, counts them.
let exports = 0;
const sink = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    exports++;
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

const services: Service[] = [];
const redisBase = process.env.REDIS_URL ?? services[services.push(await startRedis()) - 1]!.url;
const mongoUrl = process.env.MONGO_URL ?? services[services.push(await startMongoWire()) - 1]!.url;

type Mode = { name: string; env: Record<string, string> };
const modes: Mode[] = [
  { name: "off", env: {} },
  ...ratios.map((ratio) => ({
    name: `on, ${ratio * 100} % sampled`,
    env: {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: String(ratio),
    },
  })),
];

const profileDirOf = (mode: Mode) => join(String(values.out), "profiles", `tracing-${mode.name.replace(/[^a-z0-9]+/gi, "-")}`);
if (values.profile) for (const mode of modes) mkdirSync(profileDirOf(mode), { recursive: true });

type Window = { cpuPerDeliveryUs: number; p50: number; p99: number; lost: number; delivered: number };
const results = new Map<string, Window[]>(modes.map((mode) => [mode.name, []]));

let windowIndex = 0;

/** A fresh node for `mode`, with its clients seated. */
async function seatedNode(mode: Mode, index: number) {
  const server = await startServer(
    join(import.meta.dirname, "..", "server", "main.ts"),
    {
      LOG_LEVEL: "warn",
      SEND_RATE_PER_SEC: "1000",
      SEND_BURST: "1000",
      REQUEST_RATE_PER_SEC: "1000",
      // One load generator is one address: lift the per-address bounds, as bench does.
      MAX_CONNECTIONS_PER_IP: "1000000",
      JOINS_PER_SEC_PER_IP: "1000000",
      REDIS_URL: withDatabase(redisBase, String((index % 15) + 1)),
      // A database per node: FerretDB on SQLite slows as a database grows, and the store shares
      // CPU 1 with the load generator, so a growing one would drift every later window's figures.
      MONGO_URL: withDatabase(mongoUrl, `tracing_w${index}`),
      ...mode.env,
    },
    0,
    values.profile ? ["--cpu-prof", `--cpu-prof-dir=${profileDirOf(mode)}`] : [],
  );
  const meter = createMeter();
  const connector = colyseusConnector([server.endpoint], parleyChatNamed({ conversationPrefix: `tracing${Date.now().toString(36)}w${index}` }));
  const seating = await seatAll(connector, Number(values.conversations), Number(values["room-size"]), meter.events);
  return { mode, server, meter, seating };
}

/**
 * One window: a fresh node per mode, all pinned to CPU 0 and loaded at the same time by the same
 * generator, so the machine's state (the other core's load, the hypervisor, the store) falls on
 * every mode alike; each node's own CPU time per delivery is compared within the window.
 */
async function measureTogether(): Promise<Map<string, Window>> {
  const nodes: Array<Awaited<ReturnType<typeof seatedNode>>> = [];
  try {
    for (const mode of modes) nodes.push(await seatedNode(mode, windowIndex++));
    const runAll = async () => {
      for (const node of nodes) node.meter.reset();
      const before = nodes.map((node) => cpuMicros(node.server.pid));
      await Promise.all(nodes.map((node) => sendOpenLoop(node.seating, node.meter, { ratePerSec: Number(values.rate), durationMs: windowMs, textBytes: 100 })));
      await Promise.all(nodes.map((node) => drain(node.meter, 5000)));
      return nodes.map((node, i) => ({
        cpuUs: cpuMicros(node.server.pid) - before[i]!,
        ...percentilesMs(node.meter.delivery),
        delivered: node.meter.delivered,
        lost: node.meter.expected - node.meter.delivered,
      }));
    };
    await runAll(); // warm-up: JIT, connection pools, the rooms' first writes
    const measured = await runAll();
    await Promise.all(nodes.flatMap((node) => node.seating.flat().map((member) => member.close())));
    return new Map(
      nodes.map((node, i) => {
        const m = measured[i]!;
        return [node.mode.name, { cpuPerDeliveryUs: m.cpuUs / Math.max(1, m.delivered), p50: m.p50, p99: m.p99, lost: m.lost, delivered: m.delivered }];
      }),
    );
  } finally {
    await Promise.all(nodes.map((node) => node.server.stop()));
  }
}

try {
  for (let run = 0; run < Number(values.runs); run++) {
    for (const [name, window] of await measureTogether()) {
      results.get(name)!.push(window);
      console.log(`run ${run + 1}, tracing ${name}: ${window.cpuPerDeliveryUs.toFixed(1)} us CPU per delivery, p50 ${window.p50.toFixed(1)} ms, p99 ${window.p99.toFixed(1)} ms, lost ${window.lost}`);
    }
  }
} finally {
  sink.close();
  await Promise.all(services.map((service) => service.stop()));
}

const median = (numbers: number[]) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)]!;
const offWindows = results.get("off")!;
/** This mode's CPU per delivery against off's, window by window (the same window, the same load). */
const ratiosToOff = (windows: Window[]) => windows.map((window, i) => window.cpuPerDeliveryUs / offWindows[i]!.cpuPerDeliveryUs);
const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const lines = [
  `## Tracing cost, ${new Date().toISOString()} (npm run bench:tracing -- --runs ${values.runs} --seconds ${values.seconds} --ratios ${values.ratios})`,
  "",
  `${machine}. Node under test (every mode's at once) on CPU 0${hasTaskset ? "" : " (taskset missing: not pinned)"}; load generator, Redis and the store (${process.env.MONGO_URL ? "MONGO_URL" : "FerretDB on SQLite"}) on CPU 1.`,
  `Workload: ${values.conversations} channels x ${values["room-size"]} members, ${values.rate} messages/s open loop, 100-byte texts; in each window a fresh node per mode, all loaded at the same time (each its own clients at that rate; a warm-up window, then ${windowMs / 1000} s measured); medians of ${values.runs} windows, the ratio taken within each window. Spans exported over OTLP/HTTP to a sink (${exports} export calls in all).`,
  "",
  "| tracing | node CPU per delivery (us), median (each window) | against off, median of per-window ratios | p50 ms | p99 ms | lost |",
  "|---|---|---|---|---|---|",
  ...modes.map((mode) => {
    const windows = results.get(mode.name)!;
    const cpu = median(windows.map((window) => window.cpuPerDeliveryUs));
    return `| ${mode.name} | ${cpu.toFixed(1)} (${windows.map((window) => window.cpuPerDeliveryUs.toFixed(1)).join(", ")}) | ${
      mode.name === "off"
        ? "1.00x"
        : `${median(ratiosToOff(windows)).toFixed(2)}x (${ratiosToOff(windows)
            .map((ratio) => ratio.toFixed(2))
            .join(", ")})`
    } | ${median(windows.map((window) => window.p50)).toFixed(1)} | ${median(windows.map((window) => window.p99)).toFixed(1)} | ${windows.reduce((sum, window) => sum + window.lost, 0)} |`;
  }),
  "",
];
writeFileSync(join(values.out!, "tracing.md"), `${lines.join("\n")}\n`);
appendFileSync(join(values.out!, "history.md"), `${lines.join("\n")}\n`);
console.log(lines.join("\n"));
if (values.profile) {
  for (const mode of modes) {
    const file = newestProfile(profileDirOf(mode));
    if (file) console.log(`\nprofile of the last node with tracing ${mode.name} (${file}):\n${summariseProfile(file, 25)}`);
  }
}
